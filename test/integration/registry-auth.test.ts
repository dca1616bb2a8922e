import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exec } from './harness';
import { errorCode, pushBlob, pushImage, TestRegistry } from './registry-harness';

const basic = (user: string, pass: string) => ({ Authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') });

/** htpasswd lines made by Apache's htpasswd (bcrypt), not by Berth. */
function htpasswd(dir: string, users: [string, string][]): string {
  const file = path.join(dir, 'htpasswd');
  fs.writeFileSync(file, users.map(([u, p]) => spawnSync('htpasswd', ['-Bbn', u, p]).stdout.toString().trim()).join('\n') + '\n');
  return file;
}

function rules(dir: string): string {
  const file = path.join(dir, 'access.json');
  fs.writeFileSync(
    file,
    JSON.stringify([
      { account: 'alice', name: '**', actions: ['pull', 'push', 'delete'] },
      { account: 'bob', name: 'team/*', actions: ['pull'] },
      { account: 'bob', name: 'bob/*', actions: ['pull', 'push'] },
      { account: '', name: 'public/*', actions: ['pull'] },
    ]),
  );
  return file;
}

describe('registry: basic auth with htpasswd and access rules', () => {
  const reg = new TestRegistry();
  before(async () => {
    await reg.start(['--htpasswd', htpasswd(reg.dir, [['alice', 'wonderland'], ['bob', 'builder']]), '--access', rules(reg.dir)]);
  });
  after(() => reg.cleanup());

  test('the base endpoint challenges without credentials and refuses wrong ones', async () => {
    const none = await reg.request('GET', '/v2/');
    assert.equal(errorCode(none), '401 UNAUTHORIZED');
    assert.equal(none.headers['www-authenticate'], 'Basic realm="berth-registry"');
    assert.equal((await reg.request('GET', '/v2/', { headers: basic('alice', 'wrong') })).status, 401);
    assert.equal((await reg.request('GET', '/v2/', { headers: basic('mallory', 'x') })).status, 401);
    assert.equal((await reg.request('GET', '/v2/', { headers: basic('alice', 'wonderland') })).status, 200);
  });

  test('per-repository rights: pull-only users cannot push (403), anonymous users pull only public repositories', async () => {
    const saved = reg.request.bind(reg);
    reg.request = (m, p, o = {}) => saved(m, p, { ...o, headers: { ...basic('alice', 'wonderland'), ...o.headers } });
    const img = await pushImage(reg, 'team/app', 'v1', 'team');
    await pushImage(reg, 'public/app', 'v1', 'public');
    await pushImage(reg, 'private/app', 'v1', 'private');
    reg.request = saved;
    assert.equal((await reg.request('GET', '/v2/team/app/manifests/v1', { headers: basic('bob', 'builder') })).status, 200);
    assert.equal(errorCode(await reg.request('POST', '/v2/team/app/blobs/uploads/', { headers: basic('bob', 'builder') })), '403 DENIED');
    assert.equal(errorCode(await reg.request('DELETE', `/v2/team/app/manifests/${img.digest}`, { headers: basic('bob', 'builder') })), '403 DENIED');
    assert.equal(errorCode(await reg.request('GET', '/v2/other/app/tags/list', { headers: basic('bob', 'builder') })), '403 DENIED');
    assert.equal(errorCode(await reg.request('GET', '/v2/team/app/manifests/v1')), '401 UNAUTHORIZED');
    assert.equal((await reg.request('GET', '/v2/public/app/manifests/v1')).status, 200);
    assert.equal(errorCode(await reg.request('POST', '/v2/public/app/blobs/uploads/')), '401 UNAUTHORIZED');
    // The catalog shows each user what they may pull.
    assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: basic('bob', 'builder') })).json().repositories, ['public/app', 'team/app']);
    assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: basic('alice', 'wonderland') })).json().repositories, ['private/app', 'public/app', 'team/app']);
    assert.equal(errorCode(await reg.request('GET', '/v2/_catalog')), '401 UNAUTHORIZED');
  });

  test('a mount from a repository the user may not pull falls back to an upload', async () => {
    const d = await (async () => {
      const saved = reg.request.bind(reg);
      reg.request = (m, p, o = {}) => saved(m, p, { ...o, headers: { ...basic('alice', 'wonderland'), ...o.headers } });
      try {
        return await pushBlob(reg, 'secret/app', 'secret layer');
      } finally {
        reg.request = saved;
      }
    })();
    // bob may push to bob/* but not pull secret/*: nothing is mounted, an upload starts instead.
    const fallback = await reg.request('POST', `/v2/bob/app/blobs/uploads/?mount=${d}&from=secret/app`, { headers: basic('bob', 'builder') });
    assert.equal(fallback.status, 202);
    assert.equal((await reg.request('HEAD', `/v2/bob/app/blobs/${d}`, { headers: basic('bob', 'builder') })).status, 404);
    const r = await reg.request('POST', `/v2/secret/copy/blobs/uploads/?mount=${d}&from=secret/app`, { headers: basic('alice', 'wonderland') });
    assert.equal(r.status, 201);
  });

  test('skopeo pushes with credentials and is refused without', async () => {
    const oci = path.join(reg.dir, 'oci');
    assert.equal((await exec('umoci', ['init', '--layout', oci])).code, 0);
    assert.equal((await exec('umoci', ['new', '--image', `${oci}:x`])).code, 0);
    const denied = await exec('skopeo', ['copy', '--dest-tls-verify=false', `oci:${oci}:x`, `docker://${reg.addr}/team/empty:1`]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /unauthorized|authentication required/i);
    const ok = await exec('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wonderland', `oci:${oci}:x`, `docker://${reg.addr}/team/empty:1`]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('registry: docker token flow', () => {
  const reg = new TestRegistry();
  before(async () => {
    await reg.start(['--htpasswd', htpasswd(reg.dir, [['alice', 'wonderland'], ['bob', 'builder']]), '--access', rules(reg.dir), '--auth', 'token']);
  });
  after(() => reg.cleanup());

  const token = async (auth: Record<string, string>, scope: string) => {
    const r = await reg.request('GET', `/token?service=berth-registry&scope=${encodeURIComponent(scope)}`, { headers: auth });
    assert.equal(r.status, 200, r.body.toString());
    return { Authorization: `Bearer ${r.json().token}` };
  };

  test('a request without a token is challenged with the realm, service and scope it needs', async () => {
    const r = await reg.request('GET', '/v2/team/app/tags/list');
    assert.equal(errorCode(r), '401 UNAUTHORIZED');
    assert.equal(r.headers['www-authenticate'], `Bearer realm="http://${reg.addr}/token",service="berth-registry",scope="repository:team/app:pull"`);
    assert.equal((await reg.request('GET', '/v2/')).headers['www-authenticate'], `Bearer realm="http://${reg.addr}/token",service="berth-registry"`);
    assert.equal(errorCode(await reg.request('GET', '/token?scope=repository:team/app:pull', { headers: basic('alice', 'nope') })), '401 UNAUTHORIZED');
  });

  test('a token grants what the rules allow of the scope asked, and nothing more', async () => {
    const alice = await token(basic('alice', 'wonderland'), 'repository:team/app:pull,push');
    await (async () => {
      const saved = reg.request.bind(reg);
      reg.request = (m, p, o = {}) => saved(m, p, { ...o, headers: { ...alice, ...o.headers } });
      try {
        await pushImage(reg, 'team/app', 'v1', 'token');
      } finally {
        reg.request = saved;
      }
    })();
    assert.equal((await reg.request('GET', '/v2/', { headers: alice })).status, 200);
    const bob = await token(basic('bob', 'builder'), 'repository:team/app:pull,push');
    assert.equal((await reg.request('GET', '/v2/team/app/manifests/v1', { headers: bob })).status, 200);
    const refused = await reg.request('POST', '/v2/team/app/blobs/uploads/', { headers: bob });
    assert.equal(errorCode(refused), '401 UNAUTHORIZED');
    assert.match(refused.headers['www-authenticate'] as string, /error="insufficient_scope"/);
    // A token is for the repository it names.
    assert.equal((await reg.request('GET', '/v2/other/app/tags/list', { headers: alice })).status, 401);
    const forged = alice.Authorization.slice(0, -4) + 'AAAA';
    assert.equal((await reg.request('GET', '/v2/team/app/tags/list', { headers: { Authorization: forged } })).status, 401);
    const anon = await token({}, 'repository:public/app:pull');
    assert.equal((await reg.request('GET', '/v2/team/app/tags/list', { headers: anon })).status, 401);
    const catalog = await token(basic('bob', 'builder'), 'registry:catalog:*');
    assert.deepEqual((await reg.request('GET', '/v2/_catalog', { headers: catalog })).json().repositories, ['team/app']);
  });

  test('skopeo and docker-style clients follow the challenge to the token endpoint', async () => {
    const oci = path.join(reg.dir, 'oci');
    await exec('umoci', ['init', '--layout', oci]);
    await exec('umoci', ['new', '--image', `${oci}:x`]);
    const up = await exec('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wonderland', `oci:${oci}:x`, `docker://${reg.addr}/team/tok:1`]);
    assert.equal(up.code, 0, up.stderr);
    const down = await exec('skopeo', ['inspect', '--tls-verify=false', '--creds', 'bob:builder', `docker://${reg.addr}/team/tok:1`]);
    assert.equal(down.code, 0, down.stderr);
    const refused = await exec('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', 'bob:builder', `oci:${oci}:x`, `docker://${reg.addr}/team/tok:2`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /requested access to the resource is denied/);
  });
});

describe('registry: TLS', () => {
  const reg = new TestRegistry();
  before(async () => {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(reg.dir, 'key.pem'), '-out', path.join(reg.dir, 'cert.pem')]);
    assert.equal(r.status, 0, String(r.stderr));
    await reg.start(['--tls-cert', path.join(reg.dir, 'cert.pem'), '--tls-key', path.join(reg.dir, 'key.pem'), '--htpasswd', htpasswd(reg.dir, [['alice', 'wonderland']]), '--auth', 'token']);
  });
  after(() => reg.cleanup());

  test('skopeo pushes over https, trusting the certificate, through a token realm that is https too', async () => {
    const certs = path.join(reg.dir, 'certs');
    fs.mkdirSync(certs);
    fs.copyFileSync(path.join(reg.dir, 'cert.pem'), path.join(certs, 'ca.crt'));
    const oci = path.join(reg.dir, 'oci');
    await exec('umoci', ['init', '--layout', oci]);
    await exec('umoci', ['new', '--image', `${oci}:x`]);
    const r = await exec('skopeo', ['copy', '--dest-cert-dir', certs, '--dest-creds', 'alice:wonderland', `oci:${oci}:x`, `docker://${reg.addr}/tls/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    const plain = await exec('skopeo', ['inspect', '--tls-verify=true', `docker://${reg.addr}/tls/app:1`]);
    assert.notEqual(plain.code, 0, 'an untrusted certificate is refused');
    assert.match(plain.stderr, /certificate/);
  });
});
