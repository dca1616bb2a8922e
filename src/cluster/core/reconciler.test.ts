import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClusterNode, isTerminal, type Service, type Task, type TaskState, UPDATE_DEFAULTS } from './model';
import { node, rng, service, task } from './generate';
import { applyActions, applyServiceActions, HISTORY, reconcile } from './reconciler';
import { REBALANCE_LABEL, type RebalancePolicy } from './rebalancer';
import { replacementsOf } from './updater';

let ids = 0;
const newId = () => `new${++ids}`;

const apply = applyActions;

const replicated = (id: string, replicas: number, restart: Partial<Service['spec']['restart']> = {}) =>
  service(id, { mode: { replicated: { replicas } }, restart: { condition: 'any', delayMs: 5000, maxAttempts: 0, windowMs: 0, ...restart } });

test('an empty service gets one pending task per slot; scaling down shuts the highest slots', () => {
  const s = replicated('web', 3);
  const r = reconcile({ services: [s], tasks: [], nodes: [node('a')], now: 1000, newId });
  assert.deepEqual(r.actions.map((a) => a.kind === 'create' && [a.task.slot, a.task.state, a.task.desired]), [[1, 'pending', 'running'], [2, 'pending', 'running'], [3, 'pending', 'running']]);
  const running = r.actions.map((a) => (a.kind === 'create' ? { ...a.task, nodeId: 'a', state: 'running' as TaskState } : undefined)).filter(Boolean) as Task[];
  const down = reconcile({ services: [replicated('web', 1)], tasks: running, nodes: [node('a')], now: 2000, newId });
  assert.deepEqual(down.actions.map((a) => a.kind === 'shutdown' && [running.find((t) => t.id === a.taskId)!.slot, a.message]), [[2, 'scaled down'], [3, 'scaled down']]);
});

test('a node that is down has its tasks written off and replaced at once; its return with the old task makes a double that is shut down', () => {
  const s = replicated('web', 1);
  const old = task('web', { slot: 1, nodeId: 'a', state: 'running' });
  const r = reconcile({ services: [s], tasks: [old], nodes: [node('a', { ready: false }), node('b')], now: 10_000, newId });
  assert.deepEqual(r.actions.map((a) => a.kind), ['orphan', 'create']);
  assert.match((r.actions[0] as { message: string }).message, /node a is down/);
  // The partition heals before the orphaning was written: two tasks wanted for the slot, the live one on a ready node stays.
  const fresh = task('web', { slot: 1, nodeId: 'b', state: 'running', createdAt: 10_000 });
  const again = reconcile({ services: [s], tasks: [old, fresh], nodes: [node('a'), node('b')], now: 20_000, newId });
  assert.deepEqual(again.actions, [{ kind: 'shutdown', taskId: old.id, message: 'a duplicate of another task of the slot' }]);
});

test('restart policy: delay, condition and attempts within the window', () => {
  const failed = (o: Partial<Task> = {}) => task('w', { slot: 1, nodeId: 'a', state: 'failed', updatedAt: 1000, exitCode: 1, ...o });
  // Within the delay: nothing yet, and when to look again.
  const wait = reconcile({ services: [replicated('w', 1, { delayMs: 5000 })], tasks: [failed()], nodes: [node('a')], now: 3000, newId });
  assert.deepEqual(wait, { actions: [], wakeAt: 6000 });
  const go = reconcile({ services: [replicated('w', 1, { delayMs: 5000 })], tasks: [failed()], nodes: [node('a')], now: 6000, newId });
  assert.deepEqual(go.actions.map((a) => a.kind), ['shutdown', 'create']);
  assert.equal((go.actions[1] as { task: Task }).task.attempt, 2);
  // on-failure does not restart a clean exit; none never restarts.
  const clean = reconcile({ services: [replicated('w', 1, { condition: 'on-failure', delayMs: 0 })], tasks: [failed({ state: 'complete', exitCode: 0 })], nodes: [node('a')], now: 6000, newId });
  assert.deepEqual(clean.actions.map((a) => a.kind), ['shutdown']);
  const none = reconcile({ services: [replicated('w', 1, { condition: 'none', delayMs: 0 })], tasks: [failed()], nodes: [node('a')], now: 6000, newId });
  assert.deepEqual(none.actions.map((a) => a.kind), ['shutdown']);
  // Three attempts used within the window: no fourth; outside the window they no longer count.
  const history = [1, 2, 3].map((i) => failed({ updatedAt: i * 1000, desired: i < 3 ? 'shutdown' : 'running', createdAt: i }));
  const capped = reconcile({ services: [replicated('w', 1, { maxAttempts: 3, windowMs: 60_000, delayMs: 0 })], tasks: history, nodes: [node('a')], now: 10_000, newId });
  assert.deepEqual(capped.actions.map((a) => a.kind), ['shutdown']);
  const later = reconcile({ services: [replicated('w', 1, { maxAttempts: 3, windowMs: 60_000, delayMs: 0 })], tasks: history, nodes: [node('a')], now: 62_500, newId });
  assert.deepEqual(later.actions.map((a) => a.kind), ['shutdown', 'create']);
});

test('drain moves replicated tasks and stops global ones; pause keeps them; a removed service\'s tasks are shut down', () => {
  const rep = task('web', { slot: 1, nodeId: 'a', state: 'running' });
  const glob = task('agent', { nodeId: 'a', state: 'running' });
  const g = service('agent', { mode: { global: {} } });
  const drained = reconcile({ services: [replicated('web', 1), g], tasks: [rep, glob], nodes: [node('a', { availability: 'drain' }), node('b')], now: 1, newId });
  const kinds = drained.actions.map((a) => (a.kind === 'create' ? `create ${a.task.serviceId}${a.task.nodeId ? '@' + a.task.nodeId : ''}` : `${a.kind} ${'taskId' in a ? a.taskId : ''}`));
  assert.deepEqual(kinds.sort(), [`create agent@b`, 'create web', `shutdown ${glob.id}`, `shutdown ${rep.id}`].sort());
  const paused = reconcile({ services: [replicated('web', 1), g], tasks: [rep, glob], nodes: [node('a', { availability: 'pause' })], now: 1, newId });
  assert.deepEqual(paused.actions, []);
  const gone = reconcile({ services: [], tasks: [rep], nodes: [node('a')], now: 1, newId });
  assert.deepEqual(gone.actions, [{ kind: 'shutdown', taskId: rep.id, message: 'service removed' }]);
});

test('drain of a start-first service: the task runs until its replacement runs elsewhere; a failed replacement is tried again after the restart delay', () => {
  const s = service('web', { mode: { replicated: { replicas: 1 } }, update: { ...UPDATE_DEFAULTS, order: 'start-first' } });
  const old = task('web', { slot: 1, nodeId: 'a', state: 'running' });
  const nodes = [node('a', { availability: 'drain' }), node('b')];
  const r1 = reconcile({ services: [s], tasks: [old], nodes, now: 1000, newId });
  assert.deepEqual(r1.actions.map((a) => a.kind === 'create' && [a.task.replaces, a.task.nodeId]), [[old.id, undefined]]);
  const made = (r1.actions[0] as { task: Task }).task;
  const starting = [old, { ...made, nodeId: 'b', state: 'starting' as TaskState }];
  assert.deepEqual(reconcile({ services: [s], tasks: starting, nodes, now: 2000, newId }).actions, []);
  const running = [old, { ...made, nodeId: 'b', state: 'running' as TaskState, startedAt: 3000 }];
  assert.deepEqual(reconcile({ services: [s], tasks: running, nodes, now: 3000, newId }).actions, [{ kind: 'shutdown', taskId: old.id, message: 'node is drained' }]);
  const failed = [old, { ...made, nodeId: 'b', state: 'failed' as TaskState, updatedAt: 3000, desired: 'shutdown' as const }];
  assert.deepEqual(reconcile({ services: [s], tasks: failed, nodes, now: 4000, newId }), { actions: [], wakeAt: 8000 });
  assert.equal(reconcile({ services: [s], tasks: failed, nodes, now: 8000, newId }).actions.filter((a) => a.kind === 'create').length, 1);
});

test(`history: at most ${HISTORY} ended tasks per slot are kept`, () => {
  const ended = Array.from({ length: 8 }, (_, i) => task('w', { slot: 1, nodeId: 'a', state: 'failed', desired: 'shutdown', createdAt: i, updatedAt: i }));
  const live = task('w', { slot: 1, nodeId: 'a', state: 'running', createdAt: 100 });
  const r = reconcile({ services: [replicated('w', 1)], tasks: [...ended, live], nodes: [node('a')], now: 200, newId });
  assert.deepEqual(r.actions.map((a) => a.kind === 'remove' && a.taskId).sort(), ended.slice(0, 3).map((t) => t.id).sort());
  // The cluster's limit (swarm update --task-history-limit): 2 keeps the newest two; below 0 keeps them all.
  const two = reconcile({ services: [replicated('w', 1)], tasks: [...ended, live], nodes: [node('a')], now: 200, newId, history: 2 });
  assert.deepEqual(two.actions.map((a) => a.kind === 'remove' && a.taskId).sort(), ended.slice(0, 6).map((t) => t.id).sort());
  assert.deepEqual(reconcile({ services: [replicated('w', 1)], tasks: [...ended, live], nodes: [node('a')], now: 200, newId, history: -1 }).actions, []);
  // A slot scaled away keeps none once its tasks have stopped; one still stopping stays until it has.
  const gone = [task('w', { slot: 2, nodeId: 'a', state: 'shutdown', desired: 'shutdown', createdAt: 1 }), task('w', { slot: 2, nodeId: 'a', state: 'running', desired: 'shutdown', createdAt: 2 })];
  const scaled = reconcile({ services: [replicated('w', 1)], tasks: [live, ...gone], nodes: [node('a')], now: 200, newId });
  assert.deepEqual(scaled.actions, [{ kind: 'remove', taskId: gone[0].id }]);
});

/** Random clusters, services and task histories, including doubles, dead nodes and every state. */
function randomCase(seed: number): { services: Service[]; tasks: Task[]; nodes: ClusterNode[]; now: number; rebalance?: RebalancePolicy } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const nodes = Array.from({ length: 1 + Math.floor(r() * 6) }, (_, i) =>
    node(`n${i}`, { ready: r() < 0.75, availability: pick(['active', 'active', 'active', 'pause', 'drain'] as const), labels: r() < 0.5 ? { zone: pick(['a', 'b']) } : {}, usage: { cpu: r(), memoryBytes: 0 } }),
  );
  const services = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) =>
    service(`s${i}`, {
      update: { ...UPDATE_DEFAULTS, parallelism: pick([0, 1, 2]), order: pick(['stop-first', 'start-first'] as const), monitorMs: pick([0, 5000]), failureAction: pick(['pause', 'continue', 'rollback'] as const), maxFailureRatio: pick([0, 0.5]) },
      mode: r() < 0.75 ? { replicated: { replicas: Math.floor(r() * 6) } } : { global: {} },
      placement: { constraints: r() < 0.3 ? ['node.labels.zone==a'] : [], preferences: [], maxReplicasPerNode: 0 },
      restart: { condition: pick(['any', 'on-failure', 'none'] as const), delayMs: pick([0, 1000, 5000]), maxAttempts: pick([0, 0, 2, 3]), windowMs: pick([0, 10_000]) },
      labels: r() < 0.5 ? { [REBALANCE_LABEL]: 'true' } : {},
    }, pick([1, 2])),
  ).map((s) => (r() < 0.3 ? { ...s, rollout: { version: s.version, state: pick(['updating', 'paused', 'completed', 'rollback_started'] as const), startedAt: 50_000, message: '', total: 2, failures: [] } } : s))
    .map((s) => (r() < 0.5 ? { ...s, previous: { version: 3, spec: s.spec } } : s));
  const now = 100_000;
  const states: TaskState[] = ['pending', 'assigned', 'starting', 'running', 'running', 'complete', 'failed', 'shutdown', 'rejected', 'orphaned'];
  const tasks = Array.from({ length: Math.floor(r() * 25) }, () => {
    const s = r() < 0.9 ? pick(services) : service('gone');
    const state = pick(states);
    const global = 'global' in s.spec.mode;
    return task(s.id, {
      ...(global ? {} : { slot: 1 + Math.floor(r() * 7) }),
      ...(state === 'pending' && !global ? {} : { nodeId: r() < 0.95 ? pick(nodes).id : 'nX' }),
      specVersion: pick([1, s.version]), state, desired: isTerminal(state) && r() < 0.6 ? 'shutdown' : 'running', createdAt: Math.floor(r() * now), updatedAt: now - Math.floor(r() * 20_000),
      ...(state === 'running' || r() < 0.2 ? { startedAt: now - Math.floor(r() * 10_000) } : {}),
    });
  });
  // Some start-first replacements on their way.
  for (const t of tasks) {
    const peers = tasks.filter((x) => x !== t && x.serviceId === t.serviceId && x.slot === t.slot && x.nodeId === (t.slot === undefined ? t.nodeId : x.nodeId));
    if (peers.length && r() < 0.2) t.replaces = pick(peers).id;
  }
  // Half the clusters move replicas by load too.
  const rebalance = r() < 0.5 ? { threshold: pick([0.1, 0.3]), maxMoves: pick([1, 2]), settleMs: 10_000 } : undefined;
  return { services, tasks, nodes, now, ...(rebalance ? { rebalance } : {}) };
}

test('3,000 generated clusters: once applied, each slot and each eligible node has one task wanted, none on a dead or drained node, none past the replicas; a second pass does nothing', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const c = randomCase(seed);
    const first = reconcile({ ...c, newId });
    const ctx = `seed ${seed}`;
    for (const s of c.services) {
      const made = first.actions.filter((a) => a.kind === 'create' && a.task.serviceId === s.id && a.task.specVersion === s.version && c.tasks.some((t) => t.serviceId === s.id && t.specVersion !== s.version)).length;
      const slots = 'replicated' in s.spec.mode ? s.spec.mode.replicated.replicas : c.nodes.length;
      assert.ok(made <= slots, `${ctx}: ${made} tasks made for ${slots} slots`);
      const mine = (id: string) => c.tasks.find((t) => t.id === id)?.serviceId === s.id;
      // Replacements of a roll-out (a drained node's tasks get start-first ones of their own).
      const drained = (id: string) => c.nodes.find((n) => n.id === c.tasks.find((t) => t.id === id)?.nodeId)?.availability === 'drain';
      const replaced = first.actions.filter((a) => (a.kind === 'shutdown' && a.message.startsWith('replaced by') && mine(a.taskId)) || (a.kind === 'create' && a.task.replaces !== undefined && a.task.serviceId === s.id && !drained(a.task.replaces))).length;
      const policy = s.rollingBack !== undefined ? s.spec.rollback : s.spec.update;
      // Each replacement starts one task, and a start-first one that runs retires one.
      assert.ok(replaced <= (policy.parallelism || Infinity) * 2, `${ctx}: ${replaced} replacements at once, parallelism ${policy.parallelism}`);
      if (s.rollout?.version === s.version && ['paused', 'rollback_paused', 'completed', 'rollback_completed'].includes(s.rollout.state)) {
        assert.equal(first.actions.filter((a) => a.kind === 'create' && a.task.replaces !== undefined && a.task.serviceId === s.id && !drained(a.task.replaces)).length, 0, `${ctx}: a ${s.rollout.state} roll-out replaced a task`);
      }
    }
    // Level-triggered: applied, it settles (a rollback takes one more pass, for the roll-out back).
    let tasks = apply(c.tasks, first.actions, c.now);
    let services = applyServiceActions(c.services, first.actions);
    let last = first;
    for (let pass = 0; pass < 3 && last.actions.length; pass++) {
      last = reconcile({ ...c, services, tasks, newId });
      tasks = apply(tasks, last.actions, c.now);
      services = applyServiceActions(services, last.actions);
    }
    assert.deepEqual(last.actions, [], `${ctx}: not settled: ${JSON.stringify(last.actions)}`);
    const after = tasks;
    const nodes = new Map(c.nodes.map((n) => [n.id, n]));
    // A start-first replacement on its way stands beside the task it replaces.
    const incoming = new Set([...replacementsOf(after).values()].map((t) => t.id));
    const wanted = after.filter((t) => t.desired === 'running' && !incoming.has(t.id));
    for (const t of wanted) {
      const s = services.find((x) => x.id === t.serviceId);
      assert.ok(s, `${ctx}: a removed service's task is wanted`);
      if ('replicated' in s.spec.mode) {
        assert.ok(t.slot! <= s.spec.mode.replicated.replicas, `${ctx}: slot ${t.slot} past ${s.spec.mode.replicated.replicas}`);
        if (t.nodeId !== undefined && !isTerminal(t.state)) {
          const n = nodes.get(t.nodeId);
          assert.ok(n?.ready, `${ctx}: wanted on a dead node`);
          // Drained, a start-first service's task runs until a replacement does (one made, or one that failed and is tried again).
          const leaving = s.spec.update.order === 'start-first' && after.some((x) => x.replaces === t.id);
          assert.ok(n.availability !== 'drain' || leaving, `${ctx}: wanted on a drained node`);
        }
      } else {
        const n = nodes.get(t.nodeId!);
        assert.ok(n && n.availability !== 'drain', `${ctx}: a global task wanted on ${t.nodeId}`);
      }
    }
    for (const s of services) {
      const mine = wanted.filter((t) => t.serviceId === s.id);
      const keys = 'replicated' in s.spec.mode ? Array.from({ length: s.spec.mode.replicated.replicas }, (_, i) => `slot ${i + 1}`) : c.nodes.filter((n) => n.availability === 'active' && (!s.spec.placement.constraints.length || n.labels.zone === 'a')).map((n) => `node ${n.id}`);
      for (const key of keys) {
        const here = mine.filter((t) => (key.startsWith('slot') ? `slot ${t.slot}` : `node ${t.nodeId}`) === key);
        assert.ok(here.length <= 1, `${ctx}: ${s.id} ${key} has ${here.length} tasks wanted`);
        if (here.length === 1) continue;
        // Empty only while the restart policy waits or says never, for a task that ended by itself.
        const all = after.filter((t) => t.serviceId === s.id && (key.startsWith('slot') ? `slot ${t.slot}` : `node ${t.nodeId}`) === key);
        const last = all.sort((a, b) => b.createdAt - a.createdAt)[0];
        assert.ok(last && ['failed', 'complete', 'rejected'].includes(last.state), `${ctx}: ${s.id} ${key} left empty (last: ${last?.state})`);
      }
      const ended = after.filter((t) => t.serviceId === s.id && t.desired !== 'running' && isTerminal(t.state));
      const perKey = new Map<string, number>();
      for (const t of ended) perKey.set(`${t.slot}/${t.nodeId}`, 0);
      const groups = new Map<string, number>();
      for (const t of ended) {
        const k = 'replicated' in s.spec.mode ? `slot ${t.slot}` : `node ${t.nodeId}`;
        groups.set(k, (groups.get(k) ?? 0) + 1);
      }
      // Tasks written off in this pass are pruned in the next, with what they leave behind.
      for (const [k, count] of groups) assert.ok(count <= HISTORY + 2, `${ctx}: ${s.id} ${k} keeps ${count} ended tasks`);
    }
  }
});
