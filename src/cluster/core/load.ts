import type { ClusterNode, Usage } from './model';

/**
 * A node's real load as one number (0-1): the mean of its CPU share and
 * its memory share. The planner weighs it beside reservations; the
 * rebalancer compares nodes by it. A node that reports nothing counts as idle.
 */
export function realLoad(n: ClusterNode): number {
  return n.usage ? share(n, n.usage) : 0;
}

/** One task's part of its node's real load, in the same unit (0 when its node has not measured it yet). */
export function taskLoad(n: ClusterNode, taskId: string): number {
  const u = n.usage?.tasks?.[taskId];
  return u ? share(n, u) : 0;
}

function share(n: ClusterNode, u: Usage): number {
  return (u.cpu + (n.allocatable.memoryBytes ? u.memoryBytes / n.allocatable.memoryBytes : 0)) / 2;
}
