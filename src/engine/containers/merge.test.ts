import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeEnv, mergeImageConfig, processArgs } from './merge';

const image = { Entrypoint: ['/entry'], Cmd: ['default'], Env: ['PATH=/bin', 'A=1'], WorkingDir: '/w', User: 'u' };

test('no user command: image entrypoint and cmd', () => {
  const c = mergeImageConfig({}, image);
  assert.deepEqual(processArgs(c), { path: '/entry', args: ['default'] });
});

test('user cmd replaces image cmd and keeps image entrypoint', () => {
  const c = mergeImageConfig({ Cmd: ['x', 'y'] }, image);
  assert.deepEqual(processArgs(c), { path: '/entry', args: ['x', 'y'] });
});

test('user entrypoint drops image cmd', () => {
  const c = mergeImageConfig({ Entrypoint: ['/bin/sh'] }, image);
  assert.deepEqual(processArgs(c), { path: '/bin/sh', args: [] });
});

test('empty entrypoint clears it and takes image cmd', () => {
  const c = mergeImageConfig({ Entrypoint: [] }, image);
  assert.deepEqual(processArgs(c), { path: 'default', args: [] });
});

test('nothing to run is an error', () => {
  assert.throws(() => processArgs(mergeImageConfig({}, {})), /No command specified/);
});

test('env: user overrides image by key, order kept', () => {
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3']), ['PATH=/bin', 'A=2', 'B=3']);
  const c = mergeImageConfig({ Env: ['A=9'], WorkingDir: '' }, image);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=9']);
  assert.equal(c.WorkingDir, '/w');
  assert.equal(c.User, 'u');
});
