import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyActions, type Action } from './actions';
import { parseConstraint, satisfies } from './constraints';
import { GIB, node, rng, service, task } from './generate';
import { realLoad, taskLoad } from './load';
import { type ClusterNode, isLive, type Service, type Task } from './model';
import { REBALANCE_LABEL, rebalance, type RebalancePolicy } from './rebalancer';
import { reconcile } from './reconciler';

let ids = 0;
const newId = () => `m${++ids}`;
const allowed = (id: string, replicas: number, o: Parameters<typeof service>[1] = {}) => service(id, { mode: { replicated: { replicas } }, labels: { [REBALANCE_LABEL]: 'true' }, ...o });
const loaded = (id: string, cpu: number, tasks: Record<string, number> = {}, o: Partial<ClusterNode> = {}) =>
  node(id, { usage: { cpu, memoryBytes: 0, tasks: Object.fromEntries(Object.entries(tasks).map(([t, c]) => [t, { cpu: c, memoryBytes: 0 }])) }, ...o });
const policy: RebalancePolicy = { threshold: 0.2, maxMoves: 2, settleMs: 10_000 };
const creates = (actions: Action[]) => actions.flatMap((a) => (a.kind === 'create' ? [a.task] : []));

test('replicas of a labelled service move from the busiest node to the idlest, a wave of at most maxMoves, start-first and bound to their node', () => {
  const web = allowed('web', 4);
  const other = service('db', { mode: { replicated: { replicas: 1 } } });
  const tasks = [1, 2, 3].map((slot) => task('web', { slot, nodeId: 'a', state: 'running', startedAt: 0 }));
  tasks.push(task('web', { slot: 4, nodeId: 'b', state: 'running', startedAt: 0 }), task('db', { slot: 1, nodeId: 'a', state: 'running', startedAt: 0 }));
  // db is the heavy one on a (0.6 of it) but may not move; web's replicas are light.
  const nodes = [loaded('a', 0.8, { [tasks[4].id]: 0.6 }), loaded('b', 0.3), loaded('c', 0.1)];
  const r = rebalance({ services: [web, other], tasks, nodes, now: 100_000, policy, newId });
  const made = creates(r.actions);
  assert.equal(made.length, 2);
  for (const t of made) {
    assert.equal(t.serviceId, 'web');
    assert.equal(t.movedFrom, 'a');
    assert.ok(tasks.some((x) => x.id === t.replaces && x.nodeId === 'a'));
  }
  // The first goes to the idlest node without one of web's replicas, the next to the idlest left (b has one already).
  assert.deepEqual(made.map((t) => t.nodeId), ['c', 'c']);
  // While the wave is on its way, nothing more; once it has run, the loads settle first.
  // (The planner places them in the same round.)
  const moving = applyActions(tasks, r.actions, 100_000).map((t) => (t.movedFrom ? { ...t, state: 'assigned' as const } : t));
  assert.deepEqual(rebalance({ services: [web, other], tasks: moving, nodes, now: 101_000, policy, newId }).actions, []);
  const ran = moving.map((t) => (t.movedFrom ? { ...t, state: 'running' as const, startedAt: 102_000 } : t));
  const handed = reconcile({ services: [web, other], tasks: ran, nodes, now: 102_000, newId });
  assert.deepEqual(handed.actions.filter((a) => a.kind === 'shutdown').map((a) => a.kind === 'shutdown' && a.message), ['moved to c: its node was busier (rebalance)', 'moved to c: its node was busier (rebalance)']);
  const settled = applyActions(ran, handed.actions, 102_000);
  assert.deepEqual(rebalance({ services: [web, other], tasks: settled, nodes, now: 105_000, policy, newId }), { actions: [], wakeAt: 112_000 });
});

test('no move within the threshold, for an unlabelled service, during a roll-out, or one that would overshoot', () => {
  const t1 = task('web', { slot: 1, nodeId: 'a', state: 'running', startedAt: 0 });
  const run = (s: Service, nodes: ClusterNode[]) => creates(rebalance({ services: [s], tasks: [t1], nodes, now: 100_000, policy, newId }).actions);
  assert.deepEqual(run(allowed('web', 1), [loaded('a', 0.5), loaded('b', 0.35)]), []);
  assert.deepEqual(run(service('web'), [loaded('a', 0.9), loaded('b', 0)]), []);
  const rolling = { ...allowed('web', 1), rollout: { version: 1, state: 'updating' as const, startedAt: 0, message: '', total: 1, failures: [] } };
  assert.deepEqual(run(rolling, [loaded('a', 0.9), loaded('b', 0)]), []);
  // The task is the load itself: moving it would only make b the busy one.
  assert.deepEqual(run(allowed('web', 1), [loaded('a', 0.9, { [t1.id]: 0.8 }), loaded('b', 0)]), []);
  assert.equal(run(allowed('web', 1), [loaded('a', 0.9, { [t1.id]: 0.2 }), loaded('b', 0)]).length, 1);
});

test('a move respects constraints, reservations, the per-node cap and spread; one the planner could not place is given up', () => {
  const t1 = task('web', { slot: 1, nodeId: 'a', state: 'running', startedAt: 0, reservations: { nanoCpus: 0, memoryBytes: 6 * GIB } });
  const full = task('db', { slot: 1, nodeId: 'b', state: 'running', reservations: { nanoCpus: 0, memoryBytes: 4 * GIB } });
  const run = (s: Service, nodes: ClusterNode[], tasks = [t1, full]) => creates(rebalance({ services: [s, service('db')], tasks, nodes, now: 100_000, policy, newId }).actions);
  assert.deepEqual(run(allowed('web', 1), [loaded('a', 0.9), loaded('b', 0)]), []);
  assert.deepEqual(run(allowed('web', 1, { placement: { constraints: ['node.labels.zone==x'], preferences: [], maxReplicasPerNode: 0 } }), [loaded('a', 0.9, {}, { labels: { zone: 'x' } }), loaded('c', 0)]), []);
  assert.deepEqual(run(allowed('web', 1), [loaded('a', 0.9), loaded('c', 0)]).map((t) => t.nodeId), ['c']);
  // Spread over zones: a's zone holds one, c's zone one already; moving would leave c's zone ahead.
  const spread = allowed('web', 2, { placement: { constraints: [], preferences: ['spread=node.labels.zone'], maxReplicasPerNode: 0 } });
  const t2 = task('web', { slot: 2, nodeId: 'c', state: 'running' });
  const zoned = [loaded('a', 0.9, {}, { labels: { zone: 'x' } }), loaded('c', 0.3, {}, { labels: { zone: 'y' } }), loaded('d', 0, {}, { labels: { zone: 'y' } })];
  assert.deepEqual(run(spread, zoned, [t1, t2]), []);
  // An unplaced move (still pending a round later) goes, record and all.
  const stuck = task('web', { slot: 1, nodeId: 'c', state: 'pending', createdAt: 90_000, replaces: t1.id, movedFrom: 'a' });
  assert.deepEqual(rebalance({ services: [allowed('web', 1)], tasks: [t1, stuck], nodes: [loaded('a', 0.9), loaded('c', 0)], now: 100_000, policy, newId }).actions, [{ kind: 'remove', taskId: stuck.id }]);
});

/** Random clusters with real loads and labelled services. */
function randomCase(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const services = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => service(`s${i}`, {
    mode: { replicated: { replicas: 1 + Math.floor(r() * 6) } }, labels: r() < 0.6 ? { [REBALANCE_LABEL]: 'true' } : {},
    reservations: { nanoCpus: 0, memoryBytes: pick([0, 1, 3]) * GIB },
    placement: { constraints: r() < 0.3 ? ['node.labels.zone==a'] : [], preferences: r() < 0.3 ? ['spread=node.labels.zone'] : [], maxReplicasPerNode: pick([0, 0, 2]) },
  }, pick([1, 2])));
  const nodeIds = Array.from({ length: 2 + Math.floor(r() * 5) }, (_, i) => `n${i}`);
  const tasks: Task[] = [];
  for (const s of services) {
    const replicas = 'replicated' in s.spec.mode ? s.spec.mode.replicated.replicas : 0;
    for (let slot = 1; slot <= replicas; slot++) {
      tasks.push(task(s.id, { slot, nodeId: pick(nodeIds), state: pick(['running', 'running', 'running', 'starting', 'pending'] as const), specVersion: pick([1, s.version]), reservations: { ...s.spec.reservations }, startedAt: 0 }));
    }
  }
  const nodes = nodeIds.map((id) => {
    const mine = tasks.filter((t) => t.nodeId === id);
    const parts = Object.fromEntries(mine.map((t) => [t.id, { cpu: r() * 0.3, memoryBytes: r() * GIB }]));
    const cpu = Math.min(1, Object.values(parts).reduce((a, p) => a + p.cpu, 0) + r() * 0.5);
    return node(id, { ready: r() < 0.9, availability: pick(['active', 'active', 'active', 'pause', 'drain'] as const), labels: r() < 0.5 ? { zone: pick(['a', 'b']) } : {}, usage: { cpu, memoryBytes: r() * 4 * GIB, tasks: parts } });
  });
  const p: RebalancePolicy = { threshold: pick([0.05, 0.1, 0.3]), maxMoves: pick([1, 2, 3]), settleMs: 10_000 };
  return { services, tasks, nodes, policy: p, now: 100_000 };
}

test('3,000 generated clusters: moves only labelled, current, running replicas off the busiest node, to ready and active nodes that fit, never overshooting; then waits', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const c = randomCase(seed);
    const ctx = `seed ${seed}`;
    const r = rebalance({ ...c, newId });
    assert.deepEqual(rebalance({ ...c, newId: (() => { let i = ids - creates(r.actions).length; return () => `m${++i}`; })() }), r, `${ctx}: not deterministic`);
    const made = creates(r.actions);
    assert.ok(made.length <= c.policy.maxMoves, `${ctx}: ${made.length} moves`);
    const nodes = new Map(c.nodes.map((n) => [n.id, n]));
    const eligible = c.nodes.filter((n) => n.ready && n.availability === 'active');
    const busiest = Math.max(...eligible.map(realLoad));
    let fromLoad = busiest;
    const added = new Map<string, number>();
    const gained = new Map<string, number>();
    for (const t of made) {
      const old = c.tasks.find((x) => x.id === t.replaces)!;
      const s = c.services.find((x) => x.id === t.serviceId)!;
      const from = nodes.get(old.nodeId!)!;
      const to = nodes.get(t.nodeId!)!;
      assert.equal(s.spec.labels[REBALANCE_LABEL], 'true', `${ctx}: an unlabelled service moved`);
      assert.ok(old.state === 'running' && old.specVersion === s.version && t.slot === old.slot, `${ctx}: moved a ${old.state} task of version ${old.specVersion}`);
      assert.equal(realLoad(from), busiest, `${ctx}: moved from a node that is not the busiest`);
      assert.ok(to.ready && to.availability === 'active' && to.id !== from.id, `${ctx}: moved to ${to.id}`);
      assert.ok(s.spec.placement.constraints.every((k) => satisfies(to, parseConstraint(k))), `${ctx}: constraints broken`);
      const reserved = c.tasks.filter((x) => x.nodeId === to.id && x.desired === 'running' && (isLive(x.state) || x.state === 'pending')).reduce((a, x) => a + x.reservations.memoryBytes, 0) + (added.get(to.id) ?? 0);
      assert.ok(reserved + t.reservations.memoryBytes <= to.allocatable.memoryBytes, `${ctx}: reservations overflow ${to.id}`);
      added.set(to.id, (added.get(to.id) ?? 0) + t.reservations.memoryBytes);
      const u = taskLoad(from, old.id);
      const toLoad = realLoad(to) + (gained.get(to.id) ?? 0);
      assert.ok(fromLoad - toLoad > c.policy.threshold, `${ctx}: moved within the threshold`);
      assert.ok(toLoad + u < fromLoad - u, `${ctx}: a move overshoots`);
      fromLoad -= u;
      gained.set(to.id, (gained.get(to.id) ?? 0) + u);
    }
    // Applied, the wave is on its way: the next round moves nothing more.
    if (made.length) {
      const placed = applyActions(c.tasks, r.actions, c.now).map((t) => (t.movedFrom ? { ...t, state: 'assigned' as const } : t));
      const next = rebalance({ ...c, tasks: placed, now: c.now + 1000, newId });
      assert.deepEqual(creates(next.actions), [], `${ctx}: a second wave while the first is on its way`);
    }
  }
});
