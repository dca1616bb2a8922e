import type { Action } from './actions';
import { parseConstraint, parsePreference, satisfies } from './constraints';
import { realLoad, taskLoad } from './load';
import { type ClusterNode, isLive, type Service, type Task } from './model';

/** The service label (`=true`) that lets the leader move the service's replicas to idler nodes. */
export const REBALANCE_LABEL = 'berth.rebalance';

export interface RebalancePolicy {
  /** Moves start when the busiest and the idlest node's real loads (0-1) differ by more than this; 0: never. */
  threshold: number;
  /** At most this many moves in one wave; the next wave waits until they have run and settled. */
  maxMoves: number;
  /** After a wave, loads are compared again only this much later: the smoothed usage must see the move first. */
  settleMs: number;
}

export const REBALANCE_DEFAULTS: RebalancePolicy = { threshold: 0.25, maxMoves: 2, settleMs: 15_000 };

/** The cluster label (docker's swarm Spec.Labels) that sets the threshold: swarm's spec has no word for it. */
export const REBALANCE_THRESHOLD_LABEL = 'berth.rebalance.threshold';

/** The cluster's rebalance settings from its labels: the threshold given there, or the default. */
export function rebalancePolicy(labels: Record<string, string> | undefined): RebalancePolicy {
  const given = labels?.[REBALANCE_THRESHOLD_LABEL];
  return { ...REBALANCE_DEFAULTS, ...(given !== undefined ? { threshold: Number(given) } : {}) };
}

export interface RebalanceInput {
  services: Service[];
  /** The tasks as this round's other actions leave them. */
  tasks: Task[];
  nodes: ClusterNode[];
  now: number;
  policy: RebalancePolicy;
  newId: () => string;
}

/**
 * Moves replicas from the busiest node to idler ones by real load (the
 * seed's "from high-load servers to low-load ones"), a pure function of the
 * state. Only replicas of services labelled `berth.rebalance=true` move,
 * only running ones of the service's current version outside a roll-out,
 * one wave of at most `maxMoves` at a time, each a start-first replacement
 * bound to its new node (the old task stops once it runs: the reconciler's
 * hand-over). A move must not overshoot (the new node stays less loaded
 * than the old one will be, by the task's own measured load), so a single
 * hot task never swings between two nodes. Constraints, reservations, the
 * per-node cap and spread preferences hold as in placement.
 */
export function rebalance(input: RebalanceInput): { actions: Action[]; wakeAt?: number } {
  const { now, policy } = input;
  const actions: Action[] = [];
  if (!(policy.threshold > 0)) return { actions };
  const wanted = new Set(input.tasks.filter((t) => t.desired === 'running').map((t) => t.id));
  const moves = input.tasks.filter((t) => t.movedFrom !== undefined);
  let inFlight = false;
  for (const t of moves) {
    if (t.desired !== 'running' || t.replaces === undefined || !wanted.has(t.replaces)) continue;
    // A move the planner could not place (another task took the room first) is given up, leaving no trace.
    if (t.state === 'pending' && t.createdAt < now) actions.push({ kind: 'remove', taskId: t.id });
    else inFlight = true;
  }
  if (inFlight || actions.length) return { actions };
  const settled = Math.max(-Infinity, ...moves.map((t) => (t.startedAt ?? t.updatedAt) + policy.settleMs));
  if (now < settled) return { actions, wakeAt: settled };

  const nodes = input.nodes.filter((n) => n.ready && n.availability === 'active').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (nodes.length < 2) return { actions };
  const load = new Map(nodes.map((n) => [n.id, realLoad(n)]));
  const busiest = nodes.reduce((b, n) => (load.get(n.id)! > load.get(b.id)! ? n : b));
  const services = new Map(input.services.map((s) => [s.id, s]));
  const reserved = new Map(nodes.map((n) => [n.id, { cpu: 0, mem: 0 }]));
  const onNode = new Map<string, number>();
  const count = (serviceId: string, nodeId: string) => onNode.get(`${serviceId}/${nodeId}`) ?? 0;
  const replaced = new Set(input.tasks.filter((t) => t.desired === 'running' && t.replaces !== undefined).map((t) => t.replaces!));
  for (const t of input.tasks) {
    if (t.desired !== 'running' || t.nodeId === undefined || !(isLive(t.state) || t.state === 'pending')) continue;
    const r = reserved.get(t.nodeId);
    if (r) {
      r.cpu += t.reservations.nanoCpus;
      r.mem += t.reservations.memoryBytes;
    }
    onNode.set(`${t.serviceId}/${t.nodeId}`, count(t.serviceId, t.nodeId) + 1);
  }
  const spread = new SpreadCounts(input.tasks, nodes);
  const movable = (t: Task, s: Service | undefined): s is Service =>
    !!s && s.spec.labels[REBALANCE_LABEL] === 'true' && t.specVersion === s.version && !rollingOut(s) && !replaced.has(t.id);
  const candidates = input.tasks
    .filter((t) => t.nodeId === busiest.id && t.desired === 'running' && t.state === 'running' && t.slot !== undefined && movable(t, services.get(t.serviceId)))
    .map((t) => ({ t, u: taskLoad(busiest, t.id) }))
    .sort((a, b) => b.u - a.u || (a.t.id < b.t.id ? -1 : 1));

  let made = 0;
  for (const { t, u } of candidates) {
    if (made >= policy.maxMoves) break;
    const s = services.get(t.serviceId)!;
    const from = load.get(busiest.id)!;
    const fits = (n: ClusterNode) => {
      if (n.id === busiest.id) return false;
      const to = load.get(n.id)!;
      if (from - to <= policy.threshold || to + u >= from - u) return false;
      if (!s.spec.placement.constraints.every((c) => satisfies(n, parseConstraint(c)))) return false;
      const r = reserved.get(n.id)!;
      if (r.cpu + t.reservations.nanoCpus > n.allocatable.nanoCpus || r.mem + t.reservations.memoryBytes > n.allocatable.memoryBytes) return false;
      if (s.spec.placement.maxReplicasPerNode && count(s.id, n.id) >= s.spec.placement.maxReplicasPerNode) return false;
      return keepsSpread(s, spread, busiest, n);
    };
    const target = nodes.filter(fits).sort((a, b) => count(s.id, a.id) - count(s.id, b.id) || load.get(a.id)! - load.get(b.id)! || (a.id < b.id ? -1 : 1))[0];
    if (!target) continue;
    actions.push({
      kind: 'create',
      task: {
        id: input.newId(), serviceId: s.id, slot: t.slot, nodeId: target.id, specVersion: s.version, desired: 'running', state: 'pending',
        createdAt: now, updatedAt: now, attempt: t.attempt, reservations: { ...t.reservations }, replaces: t.id, movedFrom: busiest.id,
      },
    });
    made++;
    load.set(busiest.id, from - u);
    load.set(target.id, load.get(target.id)! + u);
    const r = reserved.get(target.id)!;
    r.cpu += t.reservations.nanoCpus;
    r.mem += t.reservations.memoryBytes;
    onNode.set(`${s.id}/${target.id}`, count(s.id, target.id) + 1);
    onNode.set(`${s.id}/${busiest.id}`, count(s.id, busiest.id) - 1);
    spread.moved(s.id, busiest, target);
  }
  return { actions };
}

function rollingOut(s: Service): boolean {
  return s.rollout !== undefined && s.rollout.version === s.version && (s.rollout.state === 'updating' || s.rollout.state === 'rollback_started');
}

/** For each spread preference, a move between groups must not leave the target's group ahead of the source's. */
function keepsSpread(s: Service, spread: SpreadCounts, from: ClusterNode, to: ClusterNode): boolean {
  for (const label of s.spec.placement.preferences.map(parsePreference)) {
    const [a, b] = [groupOf(from, label), groupOf(to, label)];
    if (a !== b && spread.count(s.id, label, b) + 1 > spread.count(s.id, label, a)) return false;
  }
  return true;
}

/** Nodes without the label form a group of their own, as in placement. */
function groupOf(n: ClusterNode, label: string): string {
  return n.labels[label] ?? '\u0000';
}

/**
 * A service's live tasks per group of a label's values, counted once per
 * service and label (a round may weigh every node for every candidate),
 * and kept as the wave's moves are made.
 */
class SpreadCounts {
  private readonly byNode: Map<string, ClusterNode>;
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(
    private readonly tasks: Task[],
    nodes: ClusterNode[],
  ) {
    this.byNode = new Map(nodes.map((n) => [n.id, n]));
  }

  count(serviceId: string, label: string, group: string): number {
    const key = `${serviceId}|${label}`;
    let m = this.counts.get(key);
    if (!m) {
      m = new Map();
      for (const t of this.tasks) {
        const n = t.nodeId !== undefined ? this.byNode.get(t.nodeId) : undefined;
        if (t.serviceId !== serviceId || t.desired !== 'running' || !isLive(t.state) || !n) continue;
        m.set(groupOf(n, label), (m.get(groupOf(n, label)) ?? 0) + 1);
      }
      this.counts.set(key, m);
    }
    return m.get(group) ?? 0;
  }

  moved(serviceId: string, from: ClusterNode, to: ClusterNode): void {
    for (const [key, m] of this.counts) {
      const label = key.slice(key.indexOf('|') + 1);
      if (!key.startsWith(`${serviceId}|`)) continue;
      m.set(groupOf(from, label), (m.get(groupOf(from, label)) ?? 0) - 1);
      m.set(groupOf(to, label), (m.get(groupOf(to, label)) ?? 0) + 1);
    }
  }
}
