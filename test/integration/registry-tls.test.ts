import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDaemon } from './harness';
import { TestRegistry } from './registry-harness';

/** openssl, failing the test with its words. */
function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** A CA in `dir/<name>.pem` + `.key`. */
function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`)]);
}

/** A certificate `dir/<name>.pem` + `.key` signed by `ca`, with these X.509 extensions. */
function issue(dir: string, ca: string, name: string, extensions: string): void {
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, extensions);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.csr`)]);
  openssl(['x509', '-req', '-in', path.join(dir, `${name}.csr`), '-CA', path.join(dir, `${ca}.pem`), '-CAkey', path.join(dir, `${ca}.key`), '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', path.join(dir, `${name}.pem`)]);
}

describe('registries over TLS that the daemon verifies: certs.d roots and client certificates', () => {
  const d = new TestDaemon();
  const reg = new TestRegistry();
  const pki = path.join(reg.dir, 'pki');
  const env = { DOCKER_CONFIG: path.join(d.dir, 'docker-config') };
  let folder = '';
  let image = '';
  before(async () => {
    fs.mkdirSync(pki);
    makeCa(pki, 'ca');
    makeCa(pki, 'stranger');
    issue(pki, 'ca', 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issue(pki, 'ca', 'client', 'extendedKeyUsage=clientAuth\n');
    await d.start();
    await d.importBusybox();
    // Mutual TLS, as distribution's http.tls.clientcas: no client certificate, no service.
    await reg.start(['--tls-cert', path.join(pki, 'server.pem'), '--tls-key', path.join(pki, 'server.key'), '--tls-client-ca', path.join(pki, 'ca.pem'), '--log-level', 'debug']);
    folder = path.join(d.certsDir, reg.addr);
    image = `${reg.addr}/tls/app:1`;
    await d.ok(['tag', 'busybox', image]);
  });
  after(async () => {
    await reg.cleanup();
    await d.cleanup();
  });

  const place = (files: Record<string, string | null>) => {
    fs.mkdirSync(folder, { recursive: true });
    for (const [name, from] of Object.entries(files)) {
      if (from === null) fs.rmSync(path.join(folder, name), { force: true });
      else fs.copyFileSync(path.join(pki, from), path.join(folder, name));
    }
  };

  test('without a client certificate the registry refuses the handshake, and the error says where one goes', async () => {
    const r = await d.berth(['push', image]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`place it at ${folder}/client.cert with its key at ${folder}/client.key`), r.stderr);
  });

  test('a certs.d root that did not sign the registry\'s certificate fails verification, with no fallback to HTTP or to unverified TLS', async () => {
    place({ 'ca.crt': 'stranger.pem', 'client.cert': 'client.pem', 'client.key': 'client.key' });
    const r = await d.berth(['push', image]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`place its CA at ${folder}/ca.crt`), r.stderr);
    assert.doesNotMatch(r.stderr, /insecure-registries/, 'a registry with a certs.d folder is verified even on loopback');
    assert.doesNotMatch(reg.log, /registry: request/, 'no request got through the handshake');
  });

  test('with the registry\'s CA and a client certificate in certs.d: login, push, pull, and the pulled image runs', async () => {
    place({ 'ca.crt': 'ca.pem' });
    const login = await d.berth(['login', '-u', 'anyone', '--password-stdin', reg.addr], { env, input: 'x\n' });
    assert.equal(login.code, 0, login.stderr);
    const pushed = await d.berth(['push', image]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /1: digest: sha256:[a-f0-9]{64}/);
    assert.match(reg.log, /registry: request.*PUT/);
    await d.ok(['rmi', image]);
    const pulled = await d.berth(['pull', image]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(await d.ok(['run', '--rm', image, 'echo', 'over mutual TLS']), 'over mutual TLS');
  });

  test('a client certificate without its key is refused with the file named, before any connection', async () => {
    place({ 'client.key': null });
    const r = await d.berth(['pull', image]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`missing key client.key for client certificate ${folder}/client.cert`), r.stderr);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Id}}', image]).then(Boolean), true, 'the image is still there');
  });

  test('nothing leaks', () => d.assertClean());
});
