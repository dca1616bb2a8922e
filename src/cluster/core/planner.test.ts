import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLive, type ClusterNode, type Service, type Task } from './model';
import { CPU, GIB, node, rng, service, task } from './generate';
import { parseConstraint, satisfies } from './constraints';
import { plan } from './planner';

const placedOn = (p: ReturnType<typeof plan>) => new Map(p.assignments.map((a) => [a.taskId, a.nodeId]));

test('replicas spread over nodes; ties go to the lowest node id, whatever the input order', () => {
  const nodes = [node('n3'), node('n1'), node('n2')];
  const s = service('web');
  const pending = [1, 2, 3, 4, 5].map((slot) => task('web', { slot }));
  const p = plan({ nodes, services: [s], tasks: [], pending });
  assert.deepEqual(p.assignments.map((a) => a.nodeId), ['n1', 'n2', 'n3', 'n1', 'n2']);
  assert.deepEqual(plan({ nodes: [...nodes].reverse(), services: [s], tasks: [], pending }), p);
});

test('constraints, availability and readiness filter; the reason counts each cause as swarm does', () => {
  const nodes = [node('a', { labels: { zone: 'east' } }), node('b', { availability: 'drain' }), node('c', { ready: false }), node('d', { role: 'manager' })];
  const s = service('db', { placement: { constraints: ['node.labels.zone==east'], preferences: [], maxReplicasPerNode: 0 } });
  const p = plan({ nodes, services: [s], tasks: [], pending: [task('db'), task('db')] });
  assert.deepEqual(p.assignments.map((a) => a.nodeId), ['a', 'a']);
  const m = service('mgr', { placement: { constraints: ['node.role==manager', 'node.hostname!=d'], preferences: [], maxReplicasPerNode: 0 } });
  const q = plan({ nodes, services: [m], tasks: [], pending: [task('mgr')] });
  assert.equal(q.unplaced[0].reason, 'no suitable node (2 nodes not available for new tasks; scheduling constraints not satisfied on 2 nodes)');
});

test('reservations fit within allocatable, this plan\'s placements counted; beyond every node the task waits with the reason', () => {
  const nodes = [node('a', { allocatable: { nanoCpus: 2 * CPU, memoryBytes: 4 * GIB } }), node('b', { allocatable: { nanoCpus: 1 * CPU, memoryBytes: 4 * GIB } })];
  const s = service('big', { reservations: { nanoCpus: 1 * CPU, memoryBytes: GIB } });
  const pending = [1, 2, 3, 4].map((slot) => task('big', { slot, reservations: { nanoCpus: 1 * CPU, memoryBytes: GIB } }));
  const p = plan({ nodes, services: [s], tasks: [], pending });
  assert.deepEqual(p.assignments.map((a) => a.nodeId).sort(), ['a', 'a', 'b']);
  assert.equal(p.unplaced.length, 1);
  assert.equal(p.unplaced[0].reason, 'no suitable node (insufficient resources on 2 nodes)');
});

test('at equal spread, the node with less load (reserved and real) wins; real load alone moves a choice', () => {
  const busy = node('a', { usage: { cpu: 0.9, memoryBytes: 6 * GIB } });
  const idle = node('b', { usage: { cpu: 0.1, memoryBytes: 1 * GIB } });
  const p = plan({ nodes: [busy, idle], services: [service('x')], tasks: [], pending: [task('x')] });
  assert.deepEqual(p.assignments.map((a) => a.nodeId), ['b']);
  // Reserved by another service's tasks: a is full of reservations, b of nothing.
  const other = service('other');
  const held = [1, 2, 3].map(() => task('other', { nodeId: 'a', state: 'running', reservations: { nanoCpus: CPU, memoryBytes: 2 * GIB } }));
  const q = plan({ nodes: [node('a'), node('b')], services: [service('x'), other], tasks: held, pending: [task('x')] });
  assert.deepEqual(q.assignments.map((a) => a.nodeId), ['b']);
});

test('spread preferences: replicas spread over a label\'s values first (nodes without it are a group), then over nodes', () => {
  const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('a3', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } }), node('x')];
  const s = service('web', { placement: { constraints: [], preferences: ['spread=node.labels.zone'], maxReplicasPerNode: 0 } });
  const p = plan({ nodes, services: [s], tasks: [], pending: [1, 2, 3, 4, 5, 6].map((slot) => task('web', { slot })) });
  const byZone = new Map<string, number>();
  for (const a of p.assignments) {
    const z = nodes.find((x) => x.id === a.nodeId)!.labels.zone ?? '-';
    byZone.set(z, (byZone.get(z) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(byZone), { a: 2, b: 2, '-': 2 });
});

test('max replicas per node caps a node; a global task goes to its own node or waits', () => {
  const s = service('one', { placement: { constraints: [], preferences: [], maxReplicasPerNode: 1 } });
  const p = plan({ nodes: [node('a'), node('b')], services: [s], tasks: [], pending: [task('one'), task('one'), task('one')] });
  assert.equal(p.assignments.length, 2);
  assert.match(p.unplaced[0].reason, /max replicas per node limit exceed on 2 nodes/);
  const g = service('agent', { mode: { global: {} } });
  const q = plan({ nodes: [node('a'), node('b', { availability: 'pause' })], services: [g], tasks: [], pending: [task('agent', { nodeId: 'b' }), task('agent', { nodeId: 'a' }), task('agent', { nodeId: 'zz' })] });
  assert.deepEqual(q.assignments, [{ taskId: q.assignments[0].taskId, nodeId: 'a' }]);
  assert.match(q.unplaced[0].reason, /its node is not available/);
  assert.match(q.unplaced[1].reason, /its node is not in the cluster/);
});

test('constraint syntax: keys, operators, bad input', () => {
  const n = node('n1', { hostname: 'Web-1', labels: { zone: 'East' } });
  assert.equal(satisfies(n, parseConstraint('node.hostname==web-1')), true);
  assert.equal(satisfies(n, parseConstraint('node.labels.zone==east')), false, 'labels compare as written');
  assert.equal(satisfies(n, parseConstraint('node.labels.rack!=r1')), true, 'a missing label is not equal');
  assert.equal(satisfies(n, parseConstraint(' node.role == worker ')), true);
  assert.throws(() => parseConstraint('node.colour==red'), /unknown key node.colour/);
  assert.throws(() => parseConstraint('node.role=manager'), /expected KEY==VALUE/);
  assert.throws(() => parseConstraint('node.role==boss'), /manager or worker/);
});

/** A random cluster: nodes of random sizes, labels, readiness; services with random constraints, reservations, caps, preferences. */
function randomCase(seed: number): { nodes: ClusterNode[]; services: Service[]; tasks: Task[]; pending: Task[] } {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const nodes = Array.from({ length: 1 + Math.floor(r() * 12) }, (_, i) =>
    node(`n${String(i).padStart(2, '0')}`, {
      role: r() < 0.3 ? 'manager' : 'worker',
      availability: pick(['active', 'active', 'active', 'pause', 'drain'] as const),
      ready: r() < 0.9,
      labels: r() < 0.7 ? { zone: pick(['a', 'b', 'c']), ...(r() < 0.5 ? { ssd: 'yes' } : {}) } : {},
      allocatable: { nanoCpus: Math.round((1 + r() * 7) * CPU), memoryBytes: Math.round((1 + r() * 15) * GIB) },
      usage: r() < 0.8 ? { cpu: r(), memoryBytes: r() * GIB } : undefined,
    }),
  );
  const services = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) =>
    service(`s${i}`, {
      reservations: r() < 0.5 ? { nanoCpus: Math.round(r() * 2 * CPU), memoryBytes: Math.round(r() * 3 * GIB) } : { nanoCpus: 0, memoryBytes: 0 },
      placement: {
        constraints: r() < 0.4 ? [pick(['node.labels.zone==a', 'node.labels.ssd==yes', 'node.role==worker', 'node.labels.zone!=b', 'node.hostname!=n01'])] : [],
        preferences: r() < 0.4 ? ['spread=node.labels.zone'] : [],
        maxReplicasPerNode: r() < 0.3 ? 1 + Math.floor(r() * 3) : 0,
      },
    }),
  );
  const res = (s: Service) => s.spec.reservations;
  const tasks = Array.from({ length: Math.floor(r() * 20) }, () => {
    const s = pick(services);
    return task(s.id, { nodeId: pick(nodes).id, state: pick(['running', 'starting', 'failed', 'shutdown'] as const), reservations: res(s) });
  });
  const pending = Array.from({ length: Math.floor(r() * 30) }, () => {
    const s = pick(services);
    return task(s.id, { reservations: res(s) });
  });
  return { nodes, services, tasks, pending };
}

test('3,000 generated clusters: every placement is allowed, nothing is overcommitted, the unplaced had no node, and the plan is deterministic', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const c = randomCase(seed);
    const p = plan(c);
    const ctx = `seed ${seed}`;
    assert.equal(p.assignments.length + p.unplaced.length, c.pending.length, ctx);
    assert.deepEqual(plan({ ...c, nodes: [...c.nodes].reverse(), tasks: [...c.tasks].reverse() }), p, `${ctx}: input order changed the plan`);
    const on = placedOn(p);
    const nodeById = new Map(c.nodes.map((n) => [n.id, n]));
    const svc = new Map(c.services.map((s) => [s.id, s]));
    const cpu = new Map<string, number>();
    const mem = new Map<string, number>();
    const count = new Map<string, number>();
    const add = (t: Task, nodeId: string) => {
      cpu.set(nodeId, (cpu.get(nodeId) ?? 0) + t.reservations.nanoCpus);
      mem.set(nodeId, (mem.get(nodeId) ?? 0) + t.reservations.memoryBytes);
      count.set(`${t.serviceId}@${nodeId}`, (count.get(`${t.serviceId}@${nodeId}`) ?? 0) + 1);
    };
    for (const t of c.tasks) if (isLive(t.state) && t.desired === 'running' && t.nodeId) add(t, t.nodeId);
    for (const t of c.pending) {
      const nodeId = on.get(t.id);
      if (!nodeId) continue;
      const n = nodeById.get(nodeId)!;
      const s = svc.get(t.serviceId)!;
      assert.ok(n.ready && n.availability === 'active', `${ctx}: placed on a node not ready or not active`);
      for (const k of s.spec.placement.constraints) assert.ok(satisfies(n, parseConstraint(k)), `${ctx}: ${k} broken on ${n.id}`);
      add(t, nodeId);
      if (s.spec.placement.maxReplicasPerNode) assert.ok(count.get(`${t.serviceId}@${nodeId}`)! <= s.spec.placement.maxReplicasPerNode, `${ctx}: cap passed`);
    }
    // Placements never push a node past its allocatable (live tasks alone may, if the snapshot says so).
    for (const n of c.nodes) {
      const placedHere = c.pending.filter((t) => on.get(t.id) === n.id);
      if (!placedHere.length) continue;
      assert.ok((cpu.get(n.id) ?? 0) <= n.allocatable.nanoCpus && (mem.get(n.id) ?? 0) <= n.allocatable.memoryBytes, `${ctx}: ${n.id} overcommitted`);
    }
    // An unplaced task had no node: with the final reservations (which only grew), none could take it.
    for (const u of p.unplaced) {
      const t = c.pending.find((x) => x.id === u.taskId)!;
      const s = svc.get(t.serviceId)!;
      for (const n of c.nodes) {
        const fits = n.ready && n.availability === 'active' && s.spec.placement.constraints.every((k) => satisfies(n, parseConstraint(k)))
          && (cpu.get(n.id) ?? 0) + t.reservations.nanoCpus <= n.allocatable.nanoCpus && (mem.get(n.id) ?? 0) + t.reservations.memoryBytes <= n.allocatable.memoryBytes
          && !(s.spec.placement.maxReplicasPerNode && (count.get(`${t.serviceId}@${n.id}`) ?? 0) >= s.spec.placement.maxReplicasPerNode);
        assert.ok(!fits, `${ctx}: ${u.taskId} left unplaced though ${n.id} could take it (${u.reason})`);
      }
      assert.match(u.reason, /^no suitable node \(.+\)$/, ctx);
    }
  }
});

test('spread: on identical nodes a service\'s replicas differ by at most one per node, in 500 generated cases', () => {
  for (let seed = 1; seed <= 500; seed++) {
    const r = rng(seed);
    const nodes = Array.from({ length: 1 + Math.floor(r() * 20) }, (_, i) => node(`n${i}`));
    const replicas = Math.floor(r() * 100);
    const p = plan({ nodes, services: [service('s')], tasks: [], pending: Array.from({ length: replicas }, (_, i) => task('s', { slot: i + 1 })) });
    const counts = nodes.map((n) => p.assignments.filter((a) => a.nodeId === n.id).length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `seed ${seed}: ${counts}`);
  }
});

test('a host-mode published port goes once per node, whichever service holds it; past that the task waits, saying why', () => {
  const nodes = [node('a'), node('b')];
  const web = service('web', { container: { image: 'busybox', ports: [{ target: 80, published: 8080, protocol: 'tcp' }] } });
  const other = service('other', { container: { image: 'busybox', ports: [{ target: 81, published: 8080, protocol: 'tcp' }] } });
  const udp = service('dns', { container: { image: 'busybox', ports: [{ target: 53, published: 8080, protocol: 'udp' }] } });
  const free = service('free', { container: { image: 'busybox', ports: [{ target: 80, protocol: 'tcp' }] } });
  const held = task('other', { nodeId: 'a', state: 'running' });
  const p = plan({ nodes, services: [web, other, udp, free], tasks: [held], pending: [task('web'), task('web'), task('dns'), task('free'), task('free')] });
  assert.deepEqual(p.assignments.map((x) => x.nodeId), ['b', 'a', 'b', 'a']);
  assert.equal(p.unplaced.length, 1);
  assert.equal(p.unplaced[0].reason, 'no suitable node (host-mode port already in use on 2 nodes)');
});
