import { type ClusterNode, isLive, type Service, type Task } from './model';
import { type Constraint, parseConstraint, parsePreference, satisfies } from './constraints';
import { realLoad } from './load';

/** What the planner reads: a snapshot of the store. */
export interface PlanInput {
  nodes: ClusterNode[];
  services: Service[];
  /** The tasks that hold a node now (live ones count; others are ignored). */
  tasks: Task[];
  /** Tasks to place, in the order to place them (a global task comes with its node set). */
  pending: Task[];
}

export interface Plan {
  assignments: { taskId: string; nodeId: string }[];
  /** Tasks no node can take now, with swarm's kind of reason ("no suitable node (...)"). */
  unplaced: { taskId: string; reason: string }[];
}

/**
 * How much each signal weighs in a node's load (lower is better): the share
 * of its allocatable CPU and memory reserved by tasks, and the share really
 * used (smoothed usage the node reports).
 */
export interface Weights {
  reserved: number;
  real: number;
}

export const DEFAULT_WEIGHTS: Weights = { reserved: 0.5, real: 0.5 };

/** Per-service facts the loop needs, computed once per plan. */
interface ServicePlan {
  eligible: Int32Array;
  /** Why the others are not: nodes not ready or not active, and nodes whose constraints fail. */
  unavailable: number;
  unconstrained: number;
  maxPerNode: number;
  /** Per spread preference: each node's group index, and the service's live tasks per group. */
  prefGroups: Int32Array[];
  prefCounts: Int32Array[];
  /** The service's live tasks per node. */
  onNode: Int32Array;
}

/**
 * The scheduler, a pure function (Nomad's model): it reads a snapshot and
 * returns a plan, which the leader commits with a compare-and-swap on the
 * snapshot's revision. For each pending task, in order: the nodes that are
 * ready, active and satisfy the service's constraints, where its
 * reservations fit beside what is reserved (this plan's placements count)
 * and the per-node cap allows one more, and its host-mode published ports
 * are free; of those, the one with the fewest
 * of the service's tasks in its group of each spread preference (in order),
 * then on the node itself, then the least load (reserved and real, by the
 * weights), then the fewest tasks of all, then the lowest node id: the same
 * snapshot always gives the same plan.
 */
export function plan(input: PlanInput, weights: Weights = DEFAULT_WEIGHTS): Plan {
  const nodes = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = nodes.length;
  const index = new Map(nodes.map((x, i) => [x.id, i]));
  const resCpu = new Float64Array(n);
  const resMem = new Float64Array(n);
  const total = new Int32Array(n);
  const services = new Map(input.services.map((s) => [s.id, s]));
  const liveByService = new Map<string, Task[]>();
  for (const t of input.tasks) {
    if (!isLive(t.state) || t.desired !== 'running' || t.nodeId === undefined) continue;
    const i = index.get(t.nodeId);
    if (i === undefined) continue;
    resCpu[i] += t.reservations.nanoCpus;
    resMem[i] += t.reservations.memoryBytes;
    total[i]++;
    const list = liveByService.get(t.serviceId) ?? [];
    list.push(t);
    liveByService.set(t.serviceId, list);
  }
  // Host-mode published ports held per node (swarm's filter): only services that publish any are looked at.
  const published = (sv: Service | undefined) => (sv?.spec.container.ports ?? []).flatMap((p) => (p.published ? [`${p.published}/${p.protocol}`] : []));
  const portsOnNode = new Map<number, Set<string>>();
  for (const [serviceId, live] of liveByService) {
    const ports = published(services.get(serviceId));
    if (!ports.length) continue;
    for (const t of live) {
      const i = index.get(t.nodeId!)!;
      const held = portsOnNode.get(i) ?? new Set<string>();
      for (const p of ports) held.add(p);
      portsOnNode.set(i, held);
    }
  }
  const realShare = Float64Array.from(nodes, realLoad);
  const ready = nodes.map((x) => x.ready && x.availability === 'active');
  const plans = new Map<string, ServicePlan>();
  const servicePlan = (s: Service): ServicePlan => {
    let sp = plans.get(s.id);
    if (sp) return sp;
    const constraints: Constraint[] = s.spec.placement.constraints.map(parseConstraint);
    const eligible: number[] = [];
    let unavailable = 0;
    let unconstrained = 0;
    for (let i = 0; i < n; i++) {
      if (!ready[i]) unavailable++;
      else if (!constraints.every((c) => satisfies(nodes[i], c))) unconstrained++;
      else eligible.push(i);
    }
    const onNode = new Int32Array(n);
    const live = liveByService.get(s.id) ?? [];
    for (const t of live) onNode[index.get(t.nodeId!)!]++;
    const prefGroups: Int32Array[] = [];
    const prefCounts: Int32Array[] = [];
    for (const label of s.spec.placement.preferences.map(parsePreference)) {
      // Nodes without the label form a group of their own, as in swarm.
      const values = new Map<string, number>();
      const groups = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = nodes[i].labels[label] ?? '\u0000';
        if (!values.has(v)) values.set(v, values.size);
        groups[i] = values.get(v)!;
      }
      const counts = new Int32Array(values.size);
      for (let i = 0; i < n; i++) counts[groups[i]] += onNode[i];
      prefGroups.push(groups);
      prefCounts.push(counts);
    }
    sp = { eligible: Int32Array.from(eligible), unavailable, unconstrained, maxPerNode: s.spec.placement.maxReplicasPerNode, prefGroups, prefCounts, onNode };
    plans.set(s.id, sp);
    return sp;
  };
  const load = (i: number) => {
    const a = nodes[i].allocatable;
    const reserved = ((a.nanoCpus ? resCpu[i] / a.nanoCpus : 0) + (a.memoryBytes ? resMem[i] / a.memoryBytes : 0)) / 2;
    return weights.reserved * reserved + weights.real * realShare[i];
  };

  const out: Plan = { assignments: [], unplaced: [] };
  for (const t of input.pending) {
    const s = services.get(t.serviceId);
    if (!s) {
      out.unplaced.push({ taskId: t.id, reason: `service ${t.serviceId} not found` });
      continue;
    }
    const sp = servicePlan(s);
    const cpu = t.reservations.nanoCpus;
    const mem = t.reservations.memoryBytes;
    let best = -1;
    let bestLoad = 0;
    let noRoom = 0;
    let capped = 0;
    let portTaken = 0;
    const ports = published(s);
    // A global task may go to its own node only.
    const bound = t.nodeId === undefined ? -1 : (index.get(t.nodeId) ?? -2);
    for (let k = 0; k < sp.eligible.length; k++) {
      const i = sp.eligible[k];
      if (bound !== -1 && i !== bound) continue;
      const a = nodes[i].allocatable;
      if (resCpu[i] + cpu > a.nanoCpus || resMem[i] + mem > a.memoryBytes) {
        noRoom++;
        continue;
      }
      if (sp.maxPerNode && sp.onNode[i] >= sp.maxPerNode) {
        capped++;
        continue;
      }
      if (ports.length && ports.some((p) => portsOnNode.get(i)?.has(p))) {
        portTaken++;
        continue;
      }
      if (best < 0) {
        best = i;
        bestLoad = load(i);
        continue;
      }
      const c = compare(sp, i, best);
      if (c < 0) {
        best = i;
        bestLoad = load(i);
      } else if (c === 0) {
        const l = load(i);
        if (l < bestLoad || (l === bestLoad && total[i] < total[best])) {
          best = i;
          bestLoad = l;
        }
      }
    }
    if (best < 0) {
      out.unplaced.push({ taskId: t.id, reason: noSuitableNode(sp, noRoom, capped, portTaken, bound) });
      continue;
    }
    out.assignments.push({ taskId: t.id, nodeId: nodes[best].id });
    resCpu[best] += cpu;
    resMem[best] += mem;
    total[best]++;
    sp.onNode[best]++;
    if (ports.length) portsOnNode.set(best, new Set([...(portsOnNode.get(best) ?? []), ...ports]));
    for (let p = 0; p < sp.prefGroups.length; p++) sp.prefCounts[p][sp.prefGroups[p][best]]++;
  }
  return out;
}

/** Spread first: fewer of the service's tasks in the node's group of each preference, then on the node. */
function compare(sp: ServicePlan, i: number, j: number): number {
  for (let p = 0; p < sp.prefGroups.length; p++) {
    const d = sp.prefCounts[p][sp.prefGroups[p][i]] - sp.prefCounts[p][sp.prefGroups[p][j]];
    if (d) return d;
  }
  return sp.onNode[i] - sp.onNode[j];
}

/** swarm's wording: "no suitable node (2 nodes not available for new tasks; insufficient resources on 1 node)". */
function noSuitableNode(sp: ServicePlan, noRoom: number, capped: number, portTaken: number, bound: number): string {
  const nodes = (k: number) => `${k} node${k === 1 ? '' : 's'}`;
  const parts: string[] = [];
  if (bound === -2) parts.push('its node is not in the cluster');
  if (bound < 0 && sp.unavailable) parts.push(`${nodes(sp.unavailable)} not available for new tasks`);
  if (bound < 0 && sp.unconstrained) parts.push(`scheduling constraints not satisfied on ${nodes(sp.unconstrained)}`);
  if (bound >= 0 && !sp.eligible.includes(bound)) parts.push('its node is not available or does not satisfy the constraints');
  if (noRoom) parts.push(`insufficient resources on ${nodes(noRoom)}`);
  if (capped) parts.push(`max replicas per node limit exceed on ${nodes(capped)}`);
  if (portTaken) parts.push(`host-mode port already in use on ${nodes(portTaken)}`);
  return `no suitable node (${parts.join('; ') || 'no nodes'})`;
}
