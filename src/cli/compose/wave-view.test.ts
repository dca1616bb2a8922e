import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waveLines } from './wave-view';

test('each wave: its counts, its failures named, its time from first start to last end', () => {
  const waves = [['db', 'cache'], ['api', 'worker', 'mail'], ['web']];
  const state = new Map<string, 'pending' | 'waiting' | 'starting' | 'started' | 'failed' | 'blocked'>([
    ['db', 'started'], ['cache', 'started'], ['api', 'failed'], ['worker', 'started'], ['mail', 'starting'], ['web', 'blocked'],
  ]);
  const times = new Map([
    ['db', { start: 1000, end: 1300 }], ['cache', { start: 1100, end: 1800 }],
    ['api', { start: 1900, end: 2000 }], ['worker', { start: 1900, end: 2500 }], ['mail', { start: 2100 }],
  ]);
  assert.deepEqual(waveLines(waves, state, times, 3000, false), [
    ' ✔ wave  1  2/2 started  0.8s',
    ' ▸ wave  2  1/3 started, 1 starting, 1 failed (api)  1.1s',
    ' ✘ wave  3  0/1 started, 1 kept back  ',
  ]);
});
