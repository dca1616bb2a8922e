import type { Action } from './actions';
import { type ClusterNode, isTerminal, type Rollout, type RolloutState, type Service, type Task } from './model';

export interface UpdateInput {
  service: Service;
  /** The service's tasks once this round's other actions (the reconciler's) are applied. */
  tasks: Task[];
  nodes: Map<string, ClusterNode>;
  now: number;
  newId: () => string;
}

export interface Updated {
  actions: Action[];
  wakeAt?: number;
}

const inProgress = (s: RolloutState) => s === 'updating' || s === 'rollback_started';

/** The task's own end (an exit, a failure to start), as opposed to the managers writing it off. */
export function endedByItself(t: Task): boolean {
  return t.state === 'failed' || t.state === 'complete' || t.state === 'rejected';
}

/**
 * Start-first replacements on their way, by the task each replaces (both
 * wanted running): the reconciler leaves these pairs to the updater.
 */
export function replacementsOf(tasks: Task[]): Map<string, Task> {
  const wanted = new Set(tasks.filter((t) => t.desired === 'running').map((t) => t.id));
  const out = new Map<string, Task>();
  for (const t of tasks) if (t.desired === 'running' && t.replaces !== undefined && wanted.has(t.replaces)) out.set(t.replaces, t);
  return out;
}

/**
 * The rolling update of one service (swarm's updater as a pure function of
 * the state): tasks whose version is not the service's are replaced,
 * lowest slot first, while fewer than `parallelism` replacements are on
 * their way; a replacement is on its way until it is done (running and
 * healthy, or running for the monitor period without a health check), and
 * the next starts `delayMs` after the last was done. Tasks of the roll-out
 * that end within their monitor are failures; past the ratio, the roll-out
 * pauses, goes on, or rolls the service back to its previous spec (a
 * rollback is never rolled back: it pauses). Where it stands is the
 * service's Rollout, swarm's UpdateStatus.
 */
export function rollOut(input: UpdateInput): Updated {
  const { service: s, tasks, nodes, now } = input;
  const actions: Action[] = [];
  let wakeAt: number | undefined;
  const wake = (at: number) => (wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at));
  const result = () => (wakeAt === undefined ? { actions } : { actions, wakeAt });
  const rollingBack = s.rollingBack !== undefined;
  const policy = rollingBack ? s.spec.rollback : s.spec.update;
  const incoming = replacementsOf(tasks);
  const incomingIds = new Set([...incoming.values()].map((t) => t.id));
  const current = tasks.filter((t) => t.desired === 'running' && !incomingIds.has(t.id));
  // Of another version: replaced, even one that ended and waits for its restart (it would restart as the new version).
  const stale = current.filter((t) => t.specVersion !== s.version).sort(unitOrder);

  let ro = s.rollout;
  let changed = false;
  const set = (r: Rollout) => {
    ro = r;
    changed = true;
  };
  const finish = () => {
    if (changed && ro) actions.push({ kind: 'rollout', serviceId: s.id, rollout: ro });
    return result();
  };
  if (!ro || ro.version !== s.version) {
    if (!stale.length) {
      if (ro && inProgress(ro.state)) set(completed(ro, s.version, now));
      return finish();
    }
    set({ version: s.version, state: rollingBack ? 'rollback_started' : 'updating', startedAt: now, message: rollingBack ? s.rollingBack! : 'update in progress', total: stale.length, failures: [] });
  }
  const r0: Rollout = ro!;
  if (!inProgress(r0.state)) return finish();

  const mine = tasks.filter((t) => t.specVersion === s.version && t.createdAt >= r0.startedAt);
  const hasHealth = !!s.spec.container.healthcheck?.Test?.length && s.spec.container.healthcheck.Test[0] !== 'NONE';
  const doneAt = (t: Task) => (t.startedAt === undefined ? undefined : t.startedAt + (hasHealth ? 0 : policy.monitorMs));
  const isDone = (t: Task) => t.state === 'running' && doneAt(t) !== undefined && now >= doneAt(t)!;

  const failed = mine.filter((t) => endedByItself(t) && !r0.failures.includes(t.id) && (t.startedAt === undefined || t.updatedAt - t.startedAt <= policy.monitorMs));
  if (failed.length) {
    set({ ...r0, failures: [...r0.failures, ...failed.map((t) => t.id)] });
    const r = ro!;
    if (r.failures.length / Math.max(1, r.total) > policy.maxFailureRatio && policy.failureAction !== 'continue') {
      const culprit = `failure or early termination of task ${failed[0].id}`;
      if (policy.failureAction === 'rollback' && !rollingBack && s.previous) {
        const message = `update rolled back due to ${culprit}`;
        actions.push({ kind: 'rollback', serviceId: s.id, message });
        set({ ...r, state: 'rollback_started', message });
      } else {
        set({ ...r, state: rollingBack ? 'rollback_paused' : 'paused', message: rollingBack ? `rollback paused due to ${culprit}` : `update paused due to ${culprit}` });
      }
      return finish();
    }
  }

  // Start-first: the old task stops once its replacement runs (the reconciler's hand-over).
  const onTheirWay = mine.filter((t) => t.desired === 'running' && !isTerminal(t.state) && !isDone(t));
  for (const t of onTheirWay) if (t.state === 'running' && doneAt(t) !== undefined) wake(doneAt(t)!);
  // A unit whose start-first replacement just failed tries again after the restart delay, as a restart would.
  const retryAt = (old: Task) => Math.max(0, ...mine.filter((t) => t.replaces === old.id && endedByItself(t)).map((t) => t.updatedAt + s.spec.restart.delayMs));
  const toStart = stale.filter((t) => {
    if (incoming.has(t.id)) return false;
    // A global task is replaced on its node only while that node is up and takes new tasks.
    const node = t.slot === undefined ? nodes.get(t.nodeId!) : undefined;
    if (t.slot === undefined && !(node?.ready && node.availability === 'active')) return false;
    const at = retryAt(t);
    if (at > now) wake(at);
    return at <= now;
  });
  if (!toStart.length && !onTheirWay.length && !incoming.size && !stale.length) {
    set(completed(r0, s.version, now));
    return finish();
  }
  let room = (policy.parallelism || Infinity) - onTheirWay.length;
  if (policy.delayMs && room > 0) {
    const last = Math.max(-Infinity, ...mine.filter(isDone).map((t) => doneAt(t)!));
    if (now < last + policy.delayMs) {
      wake(last + policy.delayMs);
      room = 0;
    }
  }
  for (const old of toStart.slice(0, Math.max(0, room))) {
    if (policy.order === 'stop-first') actions.push({ kind: 'shutdown', taskId: old.id, message: 'replaced by the service\'s new version' });
    actions.push({
      kind: 'create',
      task: {
        id: input.newId(), serviceId: s.id, ...(old.slot !== undefined ? { slot: old.slot } : { nodeId: old.nodeId }),
        specVersion: s.version, desired: 'running', state: 'pending', createdAt: now, updatedAt: now, attempt: 1, reservations: { ...s.spec.reservations },
        ...(policy.order === 'start-first' ? { replaces: old.id } : {}),
      },
    });
  }
  return finish();
}

function completed(r: Rollout, version: number, now: number): Rollout {
  const back = r.state === 'rollback_started';
  return { ...r, version, state: back ? 'rollback_completed' : 'completed', completedAt: now, message: back ? 'rollback completed' : 'update completed' };
}

/** Lowest slot first; a global service's tasks by node. */
function unitOrder(a: Task, b: Task): number {
  return (a.slot ?? 0) - (b.slot ?? 0) || ((a.nodeId ?? '') < (b.nodeId ?? '') ? -1 : (a.nodeId ?? '') > (b.nodeId ?? '') ? 1 : 0);
}
