import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../base/seeded';
import { ServiceGraph } from './graph';
import type { Service } from './model';

const svc = (name: string, deps: string[]): Service => ({
  name, environment: {}, env_file: [], labels: {}, links: [], volumes_from: [], networks: {}, ports: [], expose: [], volumes: [], secrets: [], configs: [], profiles: [],
  depends_on: Object.fromEntries(deps.map((d) => [d, { condition: 'service_started', required: true, restart: false }])),
});

/** A random DAG: each service depends on some of the ones before it. */
function randomDag(rand: () => number, n: number): Service[] {
  return Array.from({ length: n }, (_, i) => svc(`s${i}`, Array.from({ length: Math.floor(rand() * 4) }, () => `s${Math.floor(rand() * i)}`).filter(() => i > 0)));
}

test('generated DAGs: waves put every service after all it needs; closures are exactly the reachable sets', () => {
  for (let seed = 1; seed <= 2000; seed++) {
    const rand = seededRandom(seed);
    const services = randomDag(rand, 1 + Math.floor(rand() * 40));
    const g = new ServiceGraph(services);
    const waves = g.waves();
    const waveOf = new Map(waves.flatMap((w, i) => w.map((n) => [n, i] as const)));
    assert.equal(waveOf.size, services.length, `seed ${seed}: every service is in a wave`);
    for (const s of services) {
      for (const d of Object.keys(s.depends_on)) assert.ok(waveOf.get(d)! < waveOf.get(s.name)!, `seed ${seed}: ${s.name} after ${d}`);
      // The earliest wave: one after its latest need.
      const need = Math.max(-1, ...Object.keys(s.depends_on).map((d) => waveOf.get(d)!));
      assert.equal(waveOf.get(s.name), need + 1, `seed ${seed}: ${s.name} as early as it can`);
    }
    const pick = services[Math.floor(rand() * services.length)].name;
    const closure = g.closure([pick]);
    // Brute force: a fixpoint over the edges.
    const want = new Set([pick]);
    for (let changed = true; changed;) {
      changed = false;
      for (const s of services) if (want.has(s.name)) for (const d of Object.keys(s.depends_on)) if (!want.has(d)) { want.add(d); changed = true; }
    }
    assert.deepEqual([...closure].sort(), [...want].sort(), `seed ${seed}: closure of ${pick}`);
    for (const n of g.dependentsClosure([pick])) assert.ok(n === pick || g.closure([n]).has(pick), `seed ${seed}: ${n} needs ${pick}`);
    // The waves of a closure hold only the closure.
    assert.deepEqual(g.waves(closure).flat().sort(), [...closure].sort());
  }
});

test('generated cycles: found, and the reported path is a real cycle of the graph', () => {
  for (let seed = 1; seed <= 1000; seed++) {
    const rand = seededRandom(seed);
    const services = randomDag(rand, 2 + Math.floor(rand() * 30));
    // One back edge from an earlier service to a later one that (transitively) needs it.
    const g = new ServiceGraph(services);
    const a = services[Math.floor(rand() * services.length)].name;
    const later = [...g.dependentsClosure([a])].filter((x) => x !== a);
    const b = later.length ? later[Math.floor(rand() * later.length)] : a;
    services.find((s) => s.name === a)!.depends_on[b] = { condition: 'service_started', required: true, restart: false };
    let message = '';
    assert.throws(() => new ServiceGraph(services), (e: Error) => ((message = e.message), /dependency cycle detected/.test(e.message)), `seed ${seed}`);
    const path = message.replace('dependency cycle detected: ', '').split(' -> ');
    assert.equal(path[0], path[path.length - 1], `seed ${seed}: ${message}`);
    const byName = new Map(services.map((s) => [s.name, s]));
    for (let i = 0; i + 1 < path.length; i++) assert.ok(path[i + 1] in byName.get(path[i])!.depends_on, `seed ${seed}: ${path[i]} -> ${path[i + 1]} is an edge`);
  }
});
