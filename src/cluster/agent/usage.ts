import type { Usage } from '../core/model';

/** Cumulative counters as read from cgroups: CPU time used so far, memory in use now. */
export interface Counters {
  cpuNs: number;
  memoryBytes: number;
}

/** One reading of the node's cgroup parent and of each running task's container. */
export interface Reading {
  at: number;
  node: Counters;
  tasks: Record<string, Counters>;
}

/**
 * A node's real use, smoothed (pure: readings in, no timers): CPU as a
 * share of the node's cores from the counters' growth between readings,
 * memory as read, each an exponentially weighted mean with time constant
 * `tauMs`, so a burst of a second does not move tasks but a load that
 * lasts does. A task seen for the first time has no CPU figure until its
 * second reading; a task gone is forgotten.
 */
export class UsageMeter {
  private last?: Reading;
  private node?: Usage;
  private tasks = new Map<string, Usage>();

  constructor(
    private readonly cores: number,
    private readonly tauMs = 10_000,
  ) {}

  add(r: Reading): void {
    const prev = this.last;
    this.last = r;
    if (!prev || r.at <= prev.at) return;
    const dt = r.at - prev.at;
    const w = 1 - Math.exp(-dt / this.tauMs);
    const now = (c: Counters, p: Counters | undefined): Usage | undefined =>
      p ? { cpu: Math.min(1, Math.max(0, (c.cpuNs - p.cpuNs) / (dt * 1e6 * this.cores))), memoryBytes: c.memoryBytes } : undefined;
    const blend = (old: Usage | undefined, fresh: Usage): Usage => (old ? { cpu: old.cpu + w * (fresh.cpu - old.cpu), memoryBytes: old.memoryBytes + w * (fresh.memoryBytes - old.memoryBytes) } : fresh);
    this.node = blend(this.node, now(r.node, prev.node)!);
    const tasks = new Map<string, Usage>();
    for (const [id, c] of Object.entries(r.tasks)) {
      const fresh = now(c, prev.tasks[id]);
      if (fresh) tasks.set(id, blend(this.tasks.get(id), fresh));
    }
    this.tasks = tasks;
  }

  /** What the node publishes with its liveness (nothing before two readings). */
  current(): (Usage & { tasks: Record<string, Usage> }) | undefined {
    if (!this.node) return undefined;
    const round = (u: Usage): Usage => ({ cpu: Math.round(u.cpu * 1e4) / 1e4, memoryBytes: Math.round(u.memoryBytes) });
    return { ...round(this.node), tasks: Object.fromEntries([...this.tasks].map(([id, u]) => [id, round(u)])) };
  }
}
