import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debootstrapArgs } from './bootstrap';

test("debootstrap's arguments: the suite from the tag, minbase, Debian's mirror", () => {
  assert.deepEqual(debootstrapArgs({ name: 'debian:bookworm' }, '/t'), { suite: 'bookworm', argv: ['--variant=minbase', 'bookworm', '/t', 'http://deb.debian.org/debian'] });
  assert.equal(debootstrapArgs({ name: 'mine' }, '/t').suite, 'bookworm');
  assert.deepEqual(debootstrapArgs({ name: 'x:1', suite: 'trixie', include: ['gcc', 'libc6-dev'], mirror: 'http://m/debian' }, '/t').argv, ['--variant=minbase', '--include=gcc,libc6-dev', 'trixie', '/t', 'http://m/debian']);
  assert.throws(() => debootstrapArgs({ name: 'x', suite: 'a b' }, '/t'), /invalid suite/);
  assert.throws(() => debootstrapArgs({ name: 'x', include: ['--evil'] }, '/t'), /invalid package name/);
  assert.throws(() => debootstrapArgs({ name: 'x', mirror: 'ftp://x' }, '/t'), /invalid mirror/);
});
