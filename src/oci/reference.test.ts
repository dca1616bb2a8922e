import assert from 'node:assert/strict';
import { test } from 'node:test';
import { familiarString, normalize, parseReference } from './reference';

test('short names normalise as docker does', () => {
  assert.equal(normalize('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalize('user/app:1.0'), 'docker.io/user/app:1.0');
  assert.equal(normalize('localhost:5000/x/y'), 'localhost:5000/x/y:latest');
  assert.equal(normalize('index.docker.io/library/alpine:3'), 'docker.io/library/alpine:3');
  assert.equal(normalize('quay.io/a/b:c'), 'quay.io/a/b:c');
});

test('digests are kept and no tag is added', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  const r = parseReference(`busybox@${d}`);
  assert.equal(r.digest, d);
  assert.equal(r.tag, undefined);
});

test('familiar form drops docker.io/library', () => {
  assert.equal(familiarString(parseReference('docker.io/library/busybox:1')), 'busybox:1');
  assert.equal(familiarString(parseReference('docker.io/me/x')), 'me/x:latest');
  assert.equal(familiarString(parseReference('localhost:5000/x')), 'localhost:5000/x:latest');
});

test('malformed references are refused', () => {
  for (const s of ['', 'Busybox', 'a//b', 'a:b:c', 'busybox@sha256:abc', 'a/', ':tag', 'x:-bad']) {
    assert.throws(() => parseReference(s), /invalid reference format/, s);
  }
});
