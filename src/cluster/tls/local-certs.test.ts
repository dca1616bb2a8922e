import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { certDigest, keyDigest } from './cert-info';
import { LocalCerts } from './local-certs';
import { crossSign, issueOwn, makeCa, makeKeyAndRequest, signRequest, tlsFiles } from './pki';

test('a manager\'s files through a rotation: what it reports at each step, the new key held and handed on, then signed with', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-local-'));
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-local-'));
  try {
    const f = tlsFiles(dir);
    await makeCa(dir, 'c1');
    await issueOwn(dir, { nodeId: 'm1', clusterId: 'c1', role: 'manager', ip: '10.0.0.1' }, 7200);
    const certs = new LocalCerts(dir);
    const old = fs.readFileSync(f.ca, 'utf8');
    let held = certs.held();
    // A cluster made before rotations: no trust file, the CA's certificate is the trust.
    assert.deepEqual(held.trusts, [certDigest(old)]);
    assert.equal(held.issuer, keyDigest(old));
    assert.equal(held.signingKey, keyDigest(old));
    assert.equal(held.nextKey, undefined);
    assert.equal(held.twin, false);

    await makeCa(dir, 'c1', { next: true });
    await crossSign(dir);
    const next = fs.readFileSync(f.nextCa, 'utf8');
    certs.writeTrust([old, next]);
    const aside = path.join(dir, 'renew');
    const csr = await makeKeyAndRequest(aside);
    certs.install(await signRequest(dir, csr, { nodeId: 'm1', clusterId: 'c1', role: 'manager', ip: '10.0.0.1' }, { next: true, twin: true }), tlsFiles(aside).key);
    held = certs.held();
    assert.deepEqual(held.trusts, [certDigest(old), certDigest(next)]);
    assert.equal(held.issuer, keyDigest(next), 'signed by the new root (its twin has the same key)');
    assert.equal(held.twin, true);
    assert.deepEqual(held.signs, [keyDigest(old), keyDigest(next)]);

    // Another manager gets the new key from this one, the twin with it; a key it does not hold is not handed.
    const pair = certs.caPair(keyDigest(next));
    assert.ok(pair?.cross);
    assert.equal(certs.caPair('0'.repeat(64)), undefined);
    fs.copyFileSync(f.ca, tlsFiles(other).ca);
    fs.copyFileSync(f.caKey, tlsFiles(other).caKey);
    fs.copyFileSync(f.trust, tlsFiles(other).trust);
    fs.copyFileSync(f.cert, tlsFiles(other).cert);
    fs.copyFileSync(f.key, tlsFiles(other).key);
    const theirs = new LocalCerts(other);
    theirs.holdCa(pair!, true);
    assert.equal(theirs.held().nextKey, keyDigest(next));
    assert.equal((fs.statSync(tlsFiles(other).nextCaKey).mode & 0o777).toString(8), '600');

    // The rotation ends: the new root alone is trusted, and its key is the one signed with; the old key is gone.
    certs.writeTrust([next]);
    certs.adopt();
    held = certs.held();
    assert.deepEqual(held.trusts, [certDigest(next)]);
    assert.equal(held.signingKey, keyDigest(next));
    assert.equal(held.nextKey, undefined);
    for (const p of [f.nextCa, f.nextCaKey, f.nextCross]) assert.equal(fs.existsSync(p), false);
    assert.equal(fs.readFileSync(f.ca, 'utf8'), next);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(other, { recursive: true, force: true });
  }
});
