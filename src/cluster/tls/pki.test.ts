import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { caDigest, issueOwn, joinToken, makeCa, makeKeyAndRequest, readCredentials, signRequest, tlsFiles, tokenDigest } from './pki';

test('a CA signs node certificates with the subject it decides, the address as a SAN; tokens carry its digest', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pki-'));
  try {
    await makeCa(dir, 'c1');
    await issueOwn(dir, { nodeId: 'n1', clusterId: 'c1', role: 'manager', ip: '10.1.2.3' });
    const creds = readCredentials(dir);
    const ca = new X509Certificate(creds.ca);
    const cert = new X509Certificate(creds.cert);
    assert.ok(cert.verify(ca.publicKey));
    assert.equal(cert.subject, 'CN=n1\nO=c1\nOU=swarm-manager');
    assert.equal(cert.subjectAltName, 'IP Address:10.1.2.3, IP Address:127.0.0.1');
    assert.equal((fs.statSync(tlsFiles(dir).caKey).mode & 0o777).toString(8), '600');
    // What a request asks to be is ignored: the signer names the node.
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pki-'));
    const csr = await makeKeyAndRequest(other);
    const signed = new X509Certificate(await signRequest(dir, csr, { nodeId: 'n2', clusterId: 'c1', role: 'worker', ip: '10.1.2.4' }));
    assert.equal(signed.subject, 'CN=n2\nO=c1\nOU=swarm-worker');
    fs.rmSync(other, { recursive: true });
    await assert.rejects(signRequest(dir, 'nonsense', { nodeId: 'n3', clusterId: 'c1', role: 'worker', ip: '10.1.2.5' }), /a certificate request \(PEM\) is required/);
    await assert.rejects(signRequest(dir, csr, { nodeId: 'n3', clusterId: 'c1', role: 'worker', ip: '10.1.2.5; rm -rf /' }), /invalid node address/);
    const digest = caDigest(creds.ca);
    assert.match(digest, /^[0-9a-z]{50}$/);
    const token = joinToken(digest);
    assert.match(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    assert.notEqual(joinToken(digest), token);
    assert.equal(tokenDigest(token), digest);
    assert.equal(tokenDigest('SWMTKN-1-short-secret'), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
