import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RwGate } from './gate';

const tick = () => new Promise((r) => setImmediate(r));

test('shared holders run together; an exclusive one waits for all of them', async () => {
  const g = new RwGate();
  const log: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const a = g.shared(async () => { log.push('a+'); await held; log.push('a-'); });
  const b = g.shared(async () => { log.push('b+'); await held; log.push('b-'); });
  const x = g.exclusive(async () => { log.push('x'); });
  await tick();
  assert.deepEqual(log, ['a+', 'b+']);
  release();
  await Promise.all([a, b, x]);
  assert.deepEqual(log, ['a+', 'b+', 'a-', 'b-', 'x']);
});

test('a waiting exclusive holder keeps later shared ones out', async () => {
  const g = new RwGate();
  const log: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const a = g.shared(async () => { await held; log.push('a'); });
  const x = g.exclusive(async () => { log.push('x'); });
  const c = g.shared(async () => { log.push('c'); });
  await tick();
  assert.deepEqual(log, []);
  release();
  await Promise.all([a, x, c]);
  assert.deepEqual(log, ['a', 'x', 'c']);
});

test('a failing holder releases the gate', async () => {
  const g = new RwGate();
  await assert.rejects(g.exclusive(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await g.shared(async () => 7), 7);
});
