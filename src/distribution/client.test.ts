import assert from 'node:assert/strict';
import * as http from 'node:http';
import { test } from 'node:test';
import { MediaType } from '../oci/image';
import { parseChallenge, RegistryClient, registryHost } from './client';
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

test('tags: every page is followed through its Link header, relative or absolute', async (t) => {
  const all = ['1', '2', '3', '4', '5'];
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(req.url!);
    if (req.url === '/v2/') return void res.end('{}');
    const u = new URL(req.url!, 'http://x');
    const from = u.searchParams.has('last') ? all.indexOf(u.searchParams.get('last')!) + 1 : 0;
    const page = all.slice(from, from + 2);
    if (from + 2 < all.length) {
      const next = `/v2/lib/app/tags/list?n=2&last=${page[page.length - 1]}`;
      res.setHeader('Link', `<${from === 0 ? next : `http://${req.headers.host}${next}`}>; rel="next"`);
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ name: 'lib/app', tags: page }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = new RegistryClient(`127.0.0.1:${(server.address() as { port: number }).port}`, { insecure: true });
  t.after(() => {
    client.close();
    server.close();
  });
  assert.deepEqual(await client.tags('lib/app'), all);
  assert.deepEqual(asked.filter((u) => u.includes('tags')), ['/v2/lib/app/tags/list', '/v2/lib/app/tags/list?n=2&last=2', '/v2/lib/app/tags/list?n=2&last=4']);
});
