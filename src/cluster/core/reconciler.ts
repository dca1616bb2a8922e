import { type Action, applyActions, applyServiceActions } from './actions';
import { parseConstraint, satisfies } from './constraints';
import { type ClusterNode, isLive, isTerminal, type Service, type Task } from './model';
import { type RebalancePolicy, rebalance } from './rebalancer';
import { endedByItself, rollOut } from './updater';

export { type Action, applyActions, applyServiceActions } from './actions';

export interface ReconcileInput {
  services: Service[];
  tasks: Task[];
  nodes: ClusterNode[];
  /** ms since the epoch: restart delays and windows are measured against it. */
  now: number;
  /** Ids for the tasks it makes (injected, so the function stays pure). */
  newId: () => string;
  /** Moves by real load (the cluster's setting); none without. */
  rebalance?: RebalancePolicy;
  /** Ended tasks kept per slot (swarm's TaskHistoryRetentionLimit; HISTORY without; below 0, all). */
  history?: number;
}

export interface Reconciled {
  actions: Action[];
  /** When a restart delay ends: look again then (undefined: nothing is waiting). */
  wakeAt?: number;
}

/** Ended tasks kept per slot (or per node of a global service), as swarm's task history limit. */
export const HISTORY = 5;

/**
 * What must change so that what runs is what was asked (the orchestrator,
 * swarm's and Nomad's reconciler in one pure function): each replicated
 * service has one task wanted running in each slot 1..replicas, each global
 * service one on each active node that satisfies its constraints. A task
 * that ended by itself is replaced as its restart policy says (condition,
 * delay, attempts within the window); one on a node that is down, drained
 * or gone is written off and replaced at once; tasks of slots past the
 * replica count, of removed services and doubles (a node back from a
 * partition with its old task) are shut down. A replacement that names
 * the task it replaces (a roll-out's start-first task, a drain's, a move)
 * takes the slot over once it runs. Level-triggered: run again on its own
 * result and it has nothing more to do; new spec versions are the
 * updater's to roll out, moves by load the rebalancer's.
 */
export function reconcile(input: ReconcileInput): Reconciled {
  const nodes = new Map(input.nodes.map((n) => [n.id, n]));
  const services = new Map(input.services.map((s) => [s.id, s]));
  const out: Builder = { actions: [], ended: new Map(), history: input.history ?? HISTORY };
  const wake = (at: number) => (out.wakeAt = out.wakeAt === undefined ? at : Math.min(out.wakeAt, at));
  const byService = new Map<string, Task[]>();
  for (const t of input.tasks) {
    const list = byService.get(t.serviceId) ?? [];
    list.push(t);
    byService.set(t.serviceId, list);
  }
  // A removed service's tasks are shut down, and once they have ended their records go.
  for (const [serviceId, tasks] of byService) {
    if (services.has(serviceId)) continue;
    for (const t of tasks) {
      if (t.desired === 'running') emit(out, { kind: 'shutdown', taskId: t.id, message: 'service removed' });
      if (isTerminal(t.state)) emit(out, { kind: 'remove', taskId: t.id });
    }
  }
  for (const s of [...services.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const tasks = byService.get(s.id) ?? [];
    const ctx: Ctx = { input, nodes, service: s, out, wake };
    if ('replicated' in s.spec.mode) {
      const replicas = s.spec.mode.replicated.replicas;
      const slots = group(tasks.filter((t) => t.slot !== undefined), (t) => String(t.slot));
      for (let slot = 1; slot <= replicas; slot++) converge(ctx, slots.get(String(slot)) ?? [], { slot });
      for (const [key, list] of slots) {
        if (Number(key) <= replicas) continue;
        for (const t of list) if (t.desired === 'running') emit(out, { kind: 'shutdown', taskId: t.id, message: 'scaled down' });
        // A slot scaled away keeps no history (swarm removes its tasks once they have stopped).
        prune(out, list, 0);
      }
    } else {
      const constraints = s.spec.placement.constraints.map(parseConstraint);
      // A paused node keeps its task but gets none new; a drained one keeps none.
      const wanted = new Set(input.nodes.filter((n) => n.availability !== 'drain' && constraints.every((c) => satisfies(n, c))).map((n) => n.id));
      const perNode = group(tasks.filter((t) => t.nodeId !== undefined), (t) => t.nodeId!);
      for (const n of input.nodes) if (wanted.has(n.id) && n.availability === 'active' && !perNode.has(n.id)) perNode.set(n.id, []);
      for (const [nodeId, list] of perNode) {
        // A node that is down keeps its global task (it cannot move); one drained, no longer eligible or gone does not.
        if (wanted.has(nodeId)) {
          converge(ctx, list, { nodeId }, nodes.get(nodeId)!.availability === 'active');
          continue;
        }
        const gone = !nodes.has(nodeId);
        for (const t of list) {
          if (t.desired !== 'running') continue;
          if (gone) emit(out, { kind: 'orphan', taskId: t.id, message: `node ${nodeId} left the cluster` });
          else emit(out, { kind: 'shutdown', taskId: t.id, message: nodes.get(nodeId)!.availability === 'drain' ? 'node is drained' : 'node no longer eligible' });
        }
        prune(out, list);
      }
    }
  }
  // Then the roll-outs, on the tasks as this pass leaves them.
  const after = applyActions(input.tasks, out.actions, input.now);
  const reconciled = out.actions.length;
  for (const s of [...services.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const u = rollOut({ service: s, tasks: after.filter((t) => t.serviceId === s.id), nodes, now: input.now, newId: input.newId });
    out.actions.push(...u.actions);
    if (u.wakeAt !== undefined) wake(u.wakeAt);
  }
  // Then moves by real load, on what the rest leaves (a roll-out moves nothing).
  if (input.rebalance) {
    const moved = rebalance({
      services: applyServiceActions(input.services, out.actions), tasks: applyActions(after, out.actions.slice(reconciled), input.now), nodes: input.nodes, now: input.now, policy: input.rebalance, newId: input.newId,
    });
    out.actions.push(...moved.actions);
    if (moved.wakeAt !== undefined) wake(moved.wakeAt);
  }
  return out.wakeAt === undefined ? { actions: out.actions } : { actions: out.actions, wakeAt: out.wakeAt };
}

/** The result being built, and what its actions make of tasks (for the history kept). */
interface Builder extends Reconciled {
  ended: Map<string, 'shutdown' | 'orphan'>;
  history: number;
}

function emit(out: Builder, a: Action): void {
  out.actions.push(a);
  if (a.kind === 'shutdown' || a.kind === 'orphan') out.ended.set(a.taskId, a.kind);
}

interface Ctx {
  input: ReconcileInput;
  nodes: Map<string, ClusterNode>;
  service: Service;
  out: Builder;
  wake: (at: number) => void;
}

/**
 * One slot (or one node of a global service): exactly one task wanted
 * running. A live one on a ready node (not drained) stays. Otherwise the
 * slot's newest task decides: one that ended by itself is replaced as the
 * restart policy says (now, after its delay, or never); anything else (none
 * yet, written off, on a dead or drained node) is replaced at once.
 */
function converge(ctx: Ctx, tasks: Task[], where: { slot?: number; nodeId?: string }, mayCreate = true): void {
  const { out, nodes, service: s, input } = ctx;
  const global = where.nodeId !== undefined;
  // A start-first replacement on its way (of a task wanted running) is the updater's, not a double.
  const wantedIds = new Set(tasks.filter((t) => t.desired === 'running').map((t) => t.id));
  const isIncoming = (t: Task) => t.replaces !== undefined && wantedIds.has(t.replaces);
  const wanted = tasks.filter((t) => t.desired === 'running' && !isIncoming(t)).sort(preferred(nodes));
  const keep: Task | undefined = wanted[0];
  // The kept task's replacement (the best, if several); replacements of tasks that go, go too.
  const successors = keep ? tasks.filter((t) => t.desired === 'running' && t.replaces === keep.id).sort(preferred(nodes)) : [];
  let successor: Task | undefined = successors[0];
  const doubles = [...wanted.slice(1), ...tasks.filter((t) => t.desired === 'running' && isIncoming(t) && t !== successor)];
  // A replacement whose node is down or gone: the pair comes apart, and the task it was to replace stays.
  if (successor && !isTerminal(successor.state) && successor.nodeId !== undefined && !nodes.get(successor.nodeId)?.ready) {
    const n = nodes.get(successor.nodeId);
    emit(out, { kind: 'orphan', taskId: successor.id, message: n ? `node ${n.hostname} is down` : `node ${successor.nodeId} left the cluster` });
    successor = undefined;
  }
  // When the kept task must go, its replacement on the way takes the slot over; one that ended is over (the updater counts it).
  const takesOver = !!successor && !isTerminal(successor.state);
  if (successor && !takesOver) emit(out, { kind: 'shutdown', taskId: successor.id, message: successor.message ?? `task ${successor.state}` });
  // Doubles (a node back from a partition with its old task): the best stays.
  for (const t of doubles) emit(out, { kind: 'shutdown', taskId: t.id, message: 'a duplicate of another task of the slot' });
  let attempt = keep?.attempt ?? 1;
  if (keep && !isTerminal(keep.state)) {
    const node = keep.nodeId !== undefined ? nodes.get(keep.nodeId) : undefined;
    const stays = global || keep.nodeId === undefined || (node?.ready && node.availability !== 'drain');
    // A replacement (a new version, a move, a drain) runs: the task it replaces hands over.
    if (successor?.state === 'running' && (stays || node?.ready)) {
      emit(out, { kind: 'shutdown', taskId: keep.id, message: handover(keep, successor, nodes) });
      return prune(out, tasks);
    }
    if (stays) return prune(out, tasks);
    // Drained, of a service that starts replacements first: it runs until its replacement does elsewhere.
    if (node?.ready && s.spec.update.order === 'start-first') {
      // A replacement that failed is tried again after the restart delay, as a restart would be.
      const retryAt = Math.max(0, ...tasks.filter((t) => t.replaces === keep.id && endedByItself(t)).map((t) => t.updatedAt + s.spec.restart.delayMs));
      if (!takesOver && retryAt <= input.now) emit(out, { kind: 'create', task: { ...fresh(ctx, where, attempt), replaces: keep.id } });
      else if (!takesOver) ctx.wake(retryAt);
      return prune(out, tasks);
    }
    if (!node || !node.ready) emit(out, { kind: 'orphan', taskId: keep.id, message: node ? `node ${node.hostname} is down` : `node ${keep.nodeId} left the cluster` });
    else emit(out, { kind: 'shutdown', taskId: keep.id, message: 'node is drained' });
    if (takesOver) return prune(out, tasks);
  } else if (keep && takesOver) {
    emit(out, { kind: 'shutdown', taskId: keep.id, message: keep.message ?? `task ${keep.state}` });
    return prune(out, tasks);
  } else {
    const last = newest(tasks);
    if (last && endedByItself(last)) {
      const verdict = restartVerdict(s, last, tasks, input.now);
      if (verdict === 'wait') {
        ctx.wake(last.updatedAt + s.spec.restart.delayMs);
        return prune(out, tasks);
      }
      if (keep) emit(out, { kind: 'shutdown', taskId: keep.id, message: keep.message ?? `task ${keep.state}` });
      if (verdict === 'never') return prune(out, tasks);
      attempt = attemptsInWindow(s, tasks, input.now) + 1;
    } else if (keep) {
      // Written off (shut down, orphaned) while still wanted: the managers' own move, replaced whatever the policy.
      emit(out, { kind: 'shutdown', taskId: keep.id, message: keep.message ?? `task ${keep.state}` });
    }
  }
  if (mayCreate) emit(out, { kind: 'create', task: fresh(ctx, where, attempt) });
  prune(out, tasks);
}

/** A new task of the service's current version for the slot (or node), pending. */
function fresh(ctx: Ctx, where: { slot?: number; nodeId?: string }, attempt: number): Task {
  const { service: s, input } = ctx;
  return {
    id: input.newId(), serviceId: s.id, ...(where.slot !== undefined ? { slot: where.slot } : {}), ...(where.nodeId !== undefined ? { nodeId: where.nodeId } : {}),
    specVersion: s.version, desired: 'running', state: 'pending', createdAt: input.now, updatedAt: input.now, attempt, reservations: { ...s.spec.reservations },
  };
}

/** Why a task stops for the replacement that now runs. */
function handover(old: Task, next: Task, nodes: Map<string, ClusterNode>): string {
  if (next.specVersion !== old.specVersion) return 'replaced by the service\'s new version';
  if (old.nodeId !== undefined && nodes.get(old.nodeId)?.availability === 'drain') return 'node is drained';
  const to = next.nodeId !== undefined ? (nodes.get(next.nodeId)?.hostname ?? next.nodeId) : 'another node';
  return next.movedFrom !== undefined ? `moved to ${to}: its node was busier (rebalance)` : `replaced by a task on ${to}`;
}

/** The slot's most recent task (by creation, then id). */
function newest(tasks: Task[]): Task | undefined {
  return [...tasks].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))[0];
}

/** Of a slot's tasks wanted running, the one to keep first: live on a ready node, then further along, then newer. */
function preferred(nodes: Map<string, ClusterNode>): (a: Task, b: Task) => number {
  const rank = (t: Task) => (isLive(t.state) && t.nodeId !== undefined && nodes.get(t.nodeId)?.ready ? 0 : isTerminal(t.state) ? 2 : 1);
  return (a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1);
}

/** restart: now; wait: its delay has not passed; never: the condition or the attempts say no. */
function restartVerdict(s: Service, ended: Task, tasks: Task[], now: number): 'restart' | 'wait' | 'never' {
  const r = s.spec.restart;
  if (r.condition === 'none') return 'never';
  if (r.condition === 'on-failure' && ended.state === 'complete') return 'never';
  if (r.maxAttempts && attemptsInWindow(s, tasks, now) >= r.maxAttempts) return 'never';
  return now < ended.updatedAt + r.delayMs ? 'wait' : 'restart';
}

/** Tasks of the slot that ended by themselves within the restart window (all of them without one). */
function attemptsInWindow(s: Service, tasks: Task[], now: number): number {
  const w = s.spec.restart.windowMs;
  return tasks.filter((t) => endedByItself(t) && (!w || t.updatedAt >= now - w)).length;
}

/**
 * History: of the slot's tasks that are over once this pass's actions are
 * applied (not wanted, and ended: by themselves, stopped, or written off),
 * those past the newest `history` go (none below 0). A task wanted down but still running
 * stays until the agent has seen it end.
 */
function prune(out: Builder, tasks: Task[], keep = out.history): void {
  const over = (t: Task) => (t.desired !== 'running' || out.ended.has(t.id)) && (isTerminal(t.state) || out.ended.get(t.id) === 'orphan');
  if (keep < 0) return;
  const ended = tasks.filter(over).sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  for (const t of ended.slice(keep)) emit(out, { kind: 'remove', taskId: t.id });
}

function group<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k) ?? [];
    list.push(x);
    m.set(k, list);
  }
  return m;
}
