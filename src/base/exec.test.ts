import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { CommandError, run } from './exec';

const failure = async (p: Promise<unknown>): Promise<CommandError> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof CommandError, `expected a CommandError, got ${String(e)}`);
  return e;
};

test('a program\'s output, its input, its environment (only what it is given), found in PATH or by path', async () => {
  assert.deepEqual(await run('sh', ['-c', 'echo out; echo err >&2']), { stdout: 'out\n', stderr: 'err\n' });
  assert.equal((await run('/bin/cat', [], { input: 'a\nb' })).stdout, 'a\nb');
  assert.equal((await run('/bin/sh', ['-c', 'echo "$FOO|$HOME"'], { env: { FOO: 'bar' } })).stdout, 'bar|\n');
  // More than a pipe holds (64 KiB), from both pipes at once: nothing blocks.
  const big = await run('sh', ['-c', 'head -c 300000 /dev/zero | tr "\\0" a; head -c 200000 /dev/zero | tr "\\0" b >&2']);
  assert.equal(big.stdout.length, 300000);
  assert.equal(big.stderr.length, 200000);
});

test('failures say what happened: exit code and stderr, a missing program, a signal, a timeout, runaway output', async () => {
  const exit = await failure(run('sh', ['-c', 'echo the reason >&2; exit 3']));
  assert.equal(exit.exitCode, 3);
  assert.match(exit.message, /^sh -c .*: the reason/);
  assert.equal((await failure(run('sh', ['-c', 'echo partial; exit 1']))).stdout, 'partial\n');
  assert.match((await failure(run('sh', ['-c', 'exit 4']))).message, /exit 4$/);

  const missing = await failure(run('berth-no-such-program', []));
  assert.equal(missing.exitCode, null);
  assert.match(missing.message, /ENOENT/);

  const killed = await failure(run('sh', ['-c', 'kill -9 $$']));
  assert.equal(killed.exitCode, null);
  assert.match(killed.message, /killed by signal 9/);

  const t0 = Date.now();
  const slow = await failure(run('sleep', ['30'], { timeoutMs: 200 }));
  assert.ok(Date.now() - t0 < 10_000, 'the timeout stops the program');
  assert.match(slow.message, /timed out after 200 ms/);

  assert.match((await failure(run('cat', ['/dev/zero']))).message, /more than 67108864 bytes of output/);
});

test('a program that ignores its input, or exits before reading it, neither hangs nor throws EPIPE', async () => {
  assert.equal((await run('true', [], { input: 'x'.repeat(1 << 20) })).stdout, '');
  assert.equal((await failure(run('sh', ['-c', 'exit 2'], { input: 'x'.repeat(1 << 20) }))).exitCode, 2);
});

test('no descriptor is left open by many runs at once', async () => {
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const before = fds();
  await Promise.all(Array.from({ length: 50 }, (_, i) => run('sh', ['-c', `echo ${i}`], { input: '' })));
  await Promise.all(Array.from({ length: 10 }, () => run('false', []).catch(() => undefined)));
  assert.equal(fds(), before);
});
