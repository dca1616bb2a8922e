import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rerun } from './rerun';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('kicks during a round make one more round, never two at once; the wait a round returns brings the next; stop ends it', async () => {
  let rounds = 0;
  let active = 0;
  let most = 0;
  let wait: number | undefined;
  const loop = new Rerun(async () => {
    rounds++;
    active++;
    most = Math.max(most, active);
    await sleep(30);
    active--;
    return wait;
  }, 5);
  loop.kick();
  loop.kick();
  await sleep(15);
  for (let i = 0; i < 5; i++) loop.kick();
  await sleep(120);
  assert.equal(rounds, 2, 'the kicks before it ran made one round; those during it, one more');
  assert.equal(most, 1);
  wait = 10;
  loop.kick();
  await sleep(150);
  assert.ok(rounds >= 4, `rounds came again after the returned wait (${rounds})`);
  loop.stop();
  const at = rounds;
  await sleep(100);
  assert.ok(rounds <= at + 1, 'no round starts after stop');
});
