import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageMeter } from './usage';

const MS = 1e6;

test('CPU is the counters\' growth over the node\'s cores, smoothed; memory as read; tasks come and go', () => {
  const m = new UsageMeter(4, 10_000);
  assert.equal(m.current(), undefined);
  m.add({ at: 0, node: { cpuNs: 0, memoryBytes: 100 }, tasks: { a: { cpuNs: 0, memoryBytes: 10 } } });
  assert.equal(m.current(), undefined);
  // Two cores busy for 2 s of a 4-core node: half its CPU; task a one core: a quarter.
  m.add({ at: 2000, node: { cpuNs: 4000 * MS, memoryBytes: 200 }, tasks: { a: { cpuNs: 2000 * MS, memoryBytes: 20 }, b: { cpuNs: 0, memoryBytes: 5 } } });
  assert.deepEqual(m.current(), { cpu: 0.5, memoryBytes: 200, tasks: { a: { cpu: 0.25, memoryBytes: 20 } } });
  // The node goes idle: the figure decays over the time constant, it does not drop at once.
  m.add({ at: 4000, node: { cpuNs: 4000 * MS, memoryBytes: 200 }, tasks: { b: { cpuNs: 2000 * MS, memoryBytes: 5 } } });
  const c = m.current()!;
  assert.ok(c.cpu > 0.35 && c.cpu < 0.5, `decayed to ${c.cpu}`);
  assert.deepEqual(Object.keys(c.tasks), ['b']);
  assert.equal(c.tasks.b.cpu, 0.25);
  // A reading out of order (a clock step back) is not a rate.
  m.add({ at: 3000, node: { cpuNs: 0, memoryBytes: 1 }, tasks: {} });
  assert.equal(m.current()!.cpu, c.cpu);
});
