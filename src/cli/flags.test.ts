import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFlags } from './flags';

const specs = [
  { name: 'interactive', short: 'i', kind: 'bool' as const },
  { name: 'tty', short: 't', kind: 'bool' as const },
  { name: 'env', short: 'e', kind: 'list' as const },
  { name: 'name', kind: 'string' as const },
];

test('combined short flags, lists, = forms and stop at the image', () => {
  const p = parseFlags(['-it', '-e', 'A=1', '--env=B=2', '--name', 'web', 'busybox', 'sh', '-c', 'echo -e x'], specs, { stopAtFirstArg: true });
  assert.equal(p.flags.interactive, true);
  assert.equal(p.flags.tty, true);
  assert.deepEqual(p.flags.env, ['A=1', 'B=2']);
  assert.equal(p.flags.name, 'web');
  assert.deepEqual(p.args, ['busybox', 'sh', '-c', 'echo -e x']);
});

test('unknown flags and missing values are errors', () => {
  assert.throws(() => parseFlags(['--bogus'], specs), /unknown flag: --bogus/);
  assert.throws(() => parseFlags(['--name'], specs), /flag needs an argument/);
  assert.deepEqual(parseFlags(['-eX=1'], specs).flags.env, ['X=1']);
});
