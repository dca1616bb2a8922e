import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyActions, applyServiceActions, type Action } from './actions';
import { node, service, task } from './generate';
import { type Service, type Task, UPDATE_DEFAULTS, type UpdatePolicy } from './model';
import { reconcile } from './reconciler';

let ids = 0;
const newId = () => `u${++ids}`;
const nodes = [node('a'), node('b')];

/** A service at version 2 over three tasks of version 1, with the given update settings. */
function updating(update: Partial<UpdatePolicy> = {}, o: Partial<Service> = {}): { s: Service; tasks: Task[] } {
  const base = service('web', { mode: { replicated: { replicas: 3 } }, update: { ...UPDATE_DEFAULTS, monitorMs: 5000, ...update } });
  const s: Service = { ...base, version: 2, previous: { version: 1, spec: base.spec }, ...o };
  const tasks = [1, 2, 3].map((slot) => task('web', { slot, nodeId: 'a', state: 'running', startedAt: 0, createdAt: 0 }));
  return { s, tasks };
}

/** One leader round: reconcile, then what it wrote, as the next round reads it. */
function round(s: Service, tasks: Task[], now: number): { s: Service; tasks: Task[]; actions: Action[]; wakeAt?: number } {
  const r = reconcile({ services: [s], tasks, nodes, now, newId });
  return { s: applyServiceActions([s], r.actions)[0], tasks: applyActions(tasks, r.actions, now), actions: r.actions, wakeAt: r.wakeAt };
}

/** The agent's side: the service's pending or starting tasks of a version run from `now` (or fail). */
function run(tasks: Task[], version: number, now: number, state: 'running' | 'failed' = 'running'): Task[] {
  return tasks.map((t) => (t.specVersion === version && t.desired === 'running' && !['running', 'failed', 'complete'].includes(t.state)
    ? { ...t, state, nodeId: t.nodeId ?? 'b', updatedAt: now, ...(state === 'running' ? { startedAt: now } : { exitCode: 1 }) }
    : t));
}

const kinds = (actions: Action[]) => actions.map((a) => (a.kind === 'create' ? `create ${a.task.slot}${a.task.replaces ? ' start-first' : ''}` : a.kind === 'rollout' ? `rollout ${a.rollout.state}` : a.kind === 'rollback' ? 'rollback' : `${a.kind}`));

test('stop-first, one at a time: each new task must run for the monitor period before the next; then the update completes', () => {
  let { s, tasks } = updating();
  let r = round(s, tasks, 1000);
  assert.deepEqual(kinds(r.actions), ['shutdown', 'create 1', 'rollout updating']);
  assert.equal(r.s.rollout?.message, 'update in progress');
  ({ s, tasks } = r);
  // Running, but not yet for the monitor: nothing more, and a wake when it will be.
  tasks = run(tasks, 2, 2000);
  r = round(s, tasks, 3000);
  assert.deepEqual(r.actions, []);
  assert.equal(r.wakeAt, 7000);
  r = round(s, tasks, 7000);
  assert.deepEqual(kinds(r.actions), ['shutdown', 'create 2']);
  ({ s, tasks } = r);
  tasks = run(tasks, 2, 7000);
  ({ s, tasks } = round(s, tasks, 12_000));
  tasks = run(tasks, 2, 12_000);
  r = round(s, tasks, 16_999);
  assert.deepEqual(r.actions, []);
  r = round(s, tasks, 17_000);
  assert.deepEqual(kinds(r.actions), ['rollout completed']);
  assert.deepEqual([r.s.rollout?.message, r.s.rollout?.completedAt], ['update completed', 17_000]);
  assert.deepEqual(round(r.s, r.tasks, 20_000).actions, []);
});

test('a health check makes healthy enough (no monitor wait); parallelism 2 and a delay between batches', () => {
  const hc = { Test: ['CMD', 'true'] };
  let { s, tasks } = updating({ parallelism: 2, delayMs: 3000 });
  s = { ...s, spec: { ...s.spec, container: { ...s.spec.container, healthcheck: hc } } };
  let r = round(s, tasks, 1000);
  assert.deepEqual(kinds(r.actions), ['shutdown', 'create 1', 'shutdown', 'create 2', 'rollout updating']);
  ({ s, tasks } = r);
  tasks = run(tasks, 2, 2000);
  // Both healthy (reported running) at 2000: the next batch waits for the delay.
  r = round(s, tasks, 4000);
  assert.deepEqual([r.actions, r.wakeAt], [[], 5000]);
  r = round(s, tasks, 5000);
  assert.deepEqual(kinds(r.actions), ['shutdown', 'create 3']);
});

test('start-first: the new task starts beside the old one, which stops once it runs', () => {
  let { s, tasks } = updating({ order: 'start-first' });
  let r = round(s, tasks, 1000);
  assert.deepEqual(kinds(r.actions), ['create 1 start-first', 'rollout updating']);
  ({ s, tasks } = r);
  // While it starts, the old task of the slot is not a double.
  assert.deepEqual(round(s, tasks, 1500).actions, []);
  tasks = run(tasks, 2, 2000);
  r = round(s, tasks, 2000);
  assert.deepEqual(r.actions.map((a) => a.kind === 'shutdown' && [a.taskId, a.message]), [[tasks.find((t) => t.slot === 1 && t.specVersion === 1)!.id, 'replaced by the service\'s new version']]);
});

test('a failure within the monitor pauses the update (swarm\'s default), naming the task', () => {
  let { s, tasks } = updating();
  ({ s, tasks } = round(s, tasks, 1000));
  tasks = run(tasks, 2, 2000);
  tasks = tasks.map((t) => (t.specVersion === 2 ? { ...t, state: 'failed', updatedAt: 3000, exitCode: 1 } : t));
  const r = round(s, tasks, 3000);
  const failed = tasks.find((t) => t.specVersion === 2)!;
  assert.deepEqual([r.s.rollout?.state, r.s.rollout?.message], ['paused', `update paused due to failure or early termination of task ${failed.id}`]);
  // Paused: the restart policy still keeps the slot filled, but no more old tasks are replaced.
  const later = round(r.s, r.tasks, 60_000);
  assert.ok(later.actions.every((a) => a.kind !== 'shutdown' || a.message !== 'replaced by the service\'s new version'));
});

test('failure action rollback: the previous spec comes back and rolls out with the rollback settings; a rollback is never rolled back', () => {
  let { s, tasks } = updating({ failureAction: 'rollback' });
  ({ s, tasks } = round(s, tasks, 1000));
  tasks = run(tasks, 2, 2000, 'failed');
  let r = round(s, tasks, 2000);
  assert.ok(kinds(r.actions).includes('rollback'));
  assert.equal(r.s.version, 1);
  assert.match(r.s.rollingBack ?? '', /^update rolled back due to failure or early termination of task u\d+$/);
  ({ s, tasks } = r);
  // The next round rolls back: the new-version task's slot gets a version 1 task again.
  r = round(s, tasks, 3000);
  assert.equal(r.s.rollout?.state, 'rollback_started');
  const made = r.actions.filter((a) => a.kind === 'create').map((a) => a.kind === 'create' && a.task.specVersion);
  assert.deepEqual(made, [1]);
  ({ s, tasks } = r);
  tasks = run(tasks, 1, 3000);
  r = round(s, tasks, 9000);
  assert.deepEqual([r.s.rollout?.state, r.s.rollout?.message], ['rollback_completed', 'rollback completed']);
  // A failure during a rollback pauses it.
  const back = updating({}, { rollingBack: 'manually requested rollback' });
  const b1 = round(back.s, back.tasks, 1000);
  const failing = run(b1.tasks, 2, 1500, 'failed');
  const b2 = round(b1.s, failing, 1500);
  assert.equal(b2.s.rollout?.state, 'rollback_paused');
  assert.ok(!b2.actions.some((a) => a.kind === 'rollback'));
});

test('max failure ratio: failures up to the ratio of the tasks to replace are borne', () => {
  let { s, tasks } = updating({ maxFailureRatio: 0.4, parallelism: 0 });
  ({ s, tasks } = round(s, tasks, 1000));
  const fresh = tasks.filter((t) => t.specVersion === 2);
  const fail = (n: number, at: number) => tasks.map((t) => (fresh.slice(0, n).some((f) => f.id === t.id) ? { ...t, state: 'failed' as const, updatedAt: at, nodeId: 'a' } : t));
  // One of three (0.33) is within 0.4: on; two (0.67) is past it.
  let r = round(s, fail(1, 2000), 2000);
  assert.equal(r.s.rollout?.state, 'updating');
  assert.equal(r.s.rollout?.failures.length, 1);
  ({ s } = r);
  r = round(s, fail(2, 2500), 2500);
  assert.equal(r.s.rollout?.state, 'paused');
});

test('a scale-only change and a new service start no roll-out; a version with nothing stale completes one in progress', () => {
  const { s, tasks } = updating();
  const same = { ...s, version: 1 };
  assert.deepEqual(round(same, tasks, 1000).actions, []);
  const done = round({ ...s, rollout: { version: 1, state: 'updating', startedAt: 0, message: '', total: 3, failures: [] }, version: 1 }, tasks, 10_000);
  assert.deepEqual(kinds(done.actions), ['rollout completed']);
});
