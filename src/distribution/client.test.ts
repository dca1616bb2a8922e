import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MediaType } from '../oci/image';
import { parseChallenge, registryHost } from './client';
import { isInsecure } from './insecure';
import { choosePlatform, parsePlatform } from './platform';

test('challenges: bearer with quoted parameters (commas inside quotes), basic, and others ignored', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
  assert.equal(parseChallenge(undefined), undefined);
});

test('insecure registries: loopback always, then hosts, host:port and CIDRs listed', () => {
  assert.equal(isInsecure('127.0.0.1:5000', []), true);
  assert.equal(isInsecure('localhost:5000', []), true);
  assert.equal(isInsecure('10.1.2.3:5000', []), false);
  assert.equal(isInsecure('10.1.2.3:5000', ['10.0.0.0/8']), true);
  assert.equal(isInsecure('10.1.2.3:5000', ['10.1.2.3:5001']), false);
  assert.equal(isInsecure('registry.lan:5000', ['registry.lan:5000']), true);
  assert.equal(isInsecure('registry.lan', ['registry.lan']), true);
  assert.equal(registryHost('docker.io'), 'registry-1.docker.io');
});

test('platforms: parsed as docker writes them; an index gives the matching manifest or says what it has', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.throws(() => parsePlatform('linux'), /want os\/arch/);
  const d = (c: string, architecture: string, variant?: string) => ({ mediaType: MediaType.OciManifest, digest: 'sha256:' + c.repeat(64), size: 1, platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) } });
  const index = { schemaVersion: 2 as const, manifests: [d('a', 'amd64'), d('b', 'arm', 'v6'), d('c', 'arm', 'v7')] };
  assert.equal(choosePlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest, 'sha256:' + 'c'.repeat(64));
  assert.equal(choosePlatform(index, { os: 'linux', architecture: 'amd64' }).digest, 'sha256:' + 'a'.repeat(64));
  assert.throws(() => choosePlatform(index, { os: 'linux', architecture: 's390x' }), /no matching manifest for linux\/s390x .*linux\/amd64, linux\/arm\/v6, linux\/arm\/v7/);
});
