import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter } from './limiter';

test('never more than n at once, all run, in order of arrival', async () => {
  const l = new Limiter(3);
  let now = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 20 }, (_, i) => l.run(async () => {
    order.push(i);
    peak = Math.max(peak, ++now);
    await new Promise((r) => setTimeout(r, 1 + (i % 3)));
    now--;
  })));
  assert.equal(peak, 3);
  assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
  await assert.rejects(l.run(async () => { throw new Error('x'); }), /x/);
  assert.equal(await l.run(async () => 7), 7);
  assert.throws(() => new Limiter(0), /at least 1/);
});
