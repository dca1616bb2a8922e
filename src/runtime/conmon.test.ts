import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conmonArgs, type ConmonOptions, ctlResize, parseConmonArgv } from './conmon';

const base: ConmonOptions = {
  conmonPath: '/usr/bin/conmon', runtimePath: '/usr/bin/runc', runtimeRoot: '/run/b/runc', containerId: 'c1',
  sessionId: 'c1', name: 'web', bundle: '/run/b/c1', pidFile: '/run/b/c1/pid', conmonPidFile: '/run/b/c1/conmon.pid',
  exitDir: '/run/b/exits', persistDir: '/run/b/c1/persist', logPath: '/var/lib/b/c1/ctr.log', logSizeMax: 1000,
  tty: false, stdin: false,
};

const flag = (args: string[], f: string) => args[args.indexOf(f) + 1];

test('conmon argv names the container, runtime root, bundle and log', () => {
  const a = conmonArgs(base);
  assert.equal(flag(a, '-c'), 'c1');
  assert.equal(flag(a, '-r'), '/usr/bin/runc');
  assert.equal(flag(a, '--runtime-arg'), '--root=/run/b/runc');
  assert.equal(flag(a, '-l'), 'k8s-file:/var/lib/b/c1/ctr.log');
  assert.equal(flag(a, '--log-size-max'), '1000');
  assert.ok(!a.includes('-t') && !a.includes('-i') && !a.includes('-e'));
});

test('tty, stdin and exec sessions add their flags', () => {
  const a = conmonArgs({ ...base, tty: true, stdin: true, sessionId: 'e1', execProcessSpec: '/x/process.json' });
  assert.ok(a.includes('-t') && a.includes('-i') && a.includes('-e'));
  assert.equal(flag(a, '-u'), 'e1');
  assert.equal(flag(a, '--exec-process-spec'), '/x/process.json');
});

test('no log limit omits the flag', () => {
  assert.ok(!conmonArgs({ ...base, logSizeMax: 0 }).includes('--log-size-max'));
});

test('ctl messages follow conmon protocol', () => {
  assert.equal(ctlResize(24, 80), '1 24 80\n');
});

test('a conmon argv reads back as its container, session and bundle; other processes do not', () => {
  const argv = ['/usr/bin/conmon', ...conmonArgs({ ...base, sessionId: 'e1', bundle: '/run/b/exec/e1' })];
  assert.deepEqual(parseConmonArgv(42, argv), { pid: 42, containerId: 'c1', sessionId: 'e1', bundle: '/run/b/exec/e1' });
  assert.equal(parseConmonArgv(43, ['/usr/bin/sleep', '--api-version', '-c', 'x']), undefined);
  assert.equal(parseConmonArgv(44, ['conmon', '--version']), undefined);
});
