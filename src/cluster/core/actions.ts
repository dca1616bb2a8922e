import type { Rollout, Service, Task } from './model';

/** What the leader changes in one round: the reconciler's and the updater's decisions. */
export type Action =
  /** A new task, pending (the planner places it; a global one comes with its node). */
  | { kind: 'create'; task: Task }
  /** The managers no longer want the task running (the agent stops it). */
  | { kind: 'shutdown'; taskId: string; message: string }
  /** The task's node is gone or down: it is written off (orphaned) and replaced elsewhere. */
  | { kind: 'orphan'; taskId: string; message: string }
  /** An old task past the history kept per slot: its record goes. */
  | { kind: 'remove'; taskId: string }
  /** Where a service's roll-out stands now. */
  | { kind: 'rollout'; serviceId: string; rollout: Rollout }
  /** The roll-out failed: the service goes back to its previous spec. */
  | { kind: 'rollback'; serviceId: string; message: string };

/** The tasks once the actions are applied (pure): what the leader plans placements on, and what tests check. */
export function applyActions(tasks: Task[], actions: Action[], now: number): Task[] {
  const out = new Map(tasks.map((t) => [t.id, t]));
  for (const a of actions) {
    if (a.kind === 'create') out.set(a.task.id, a.task);
    else if (a.kind === 'remove') out.delete(a.taskId);
    else if (a.kind === 'shutdown' || a.kind === 'orphan') {
      const t = out.get(a.taskId);
      // Wanting it down is no change of its state: only a write-off moves its clock (restart windows count state changes).
      if (t) out.set(a.taskId, { ...t, desired: 'shutdown', message: a.message, ...(a.kind === 'orphan' ? { state: 'orphaned' as const, updatedAt: now } : {}) });
    }
  }
  return [...out.values()];
}

/**
 * The services once the actions are applied: a roll-out's new status, and
 * a rollback, which brings the previous spec back under its own version
 * (swarm then forgets the failed one: a rollback is not rolled back).
 */
export function applyServiceActions(services: Service[], actions: Action[]): Service[] {
  const out = new Map(services.map((s) => [s.id, s]));
  for (const a of actions) {
    const s = a.kind === 'rollout' || a.kind === 'rollback' ? out.get(a.serviceId) : undefined;
    if (!s) continue;
    if (a.kind === 'rollout') out.set(s.id, { ...s, rollout: a.rollout });
    else if (a.kind === 'rollback') {
      if (s.previous) {
        const { previous, ...rest } = s;
        out.set(s.id, { ...rest, spec: previous.spec, version: previous.version, rollingBack: a.message });
      }
    }
  }
  return [...out.values()];
}
