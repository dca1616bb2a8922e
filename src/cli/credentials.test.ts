import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helperFor, serverKey } from './credentials';

test('credential helpers: credHelpers for that registry, else credsStore, else none; an empty name is none', () => {
  const cfg = { credsStore: 'pass', credHelpers: { 'reg.example:5000': 'ecr-login', 'other.example': '' } };
  assert.equal(helperFor(cfg, 'reg.example:5000'), 'ecr-login');
  assert.equal(helperFor(cfg, 'other.example'), 'pass');
  assert.equal(helperFor(cfg, serverKey('docker.io')), 'pass');
  assert.equal(helperFor({ credHelpers: { 'a:1': 'x' } }, 'b:1'), undefined);
  assert.equal(helperFor({ credsStore: '' }, 'b:1'), undefined);
});

test('config keys: Docker Hub by docker\'s URL, other registries by host[:port] without scheme or path', () => {
  for (const s of ['docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io']) assert.equal(serverKey(s), 'https://index.docker.io/v1/');
  assert.equal(serverKey('https://reg.example:5000/v2/'), 'reg.example:5000');
  assert.equal(serverKey('127.0.0.1:5000'), '127.0.0.1:5000');
});
