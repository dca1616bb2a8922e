import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { seededRandom } from '../../base/seeded';
import { certDigest, keyDigest, names, renewAt } from './cert-info';
import { issueOwn, makeCa, tlsFiles } from './pki';
import { type CaSpec, nodeSteps, ORPHANED_AFTER_MS, rotationDone, rotationOrphaned, type TlsReport, trustedRoots } from './rotation';

/** Five roots made by openssl, once: the first the cluster's, the others for rotations. */
let roots: string[] = [];
before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rot-'));
  try {
    for (let i = 0; i < 5; i++) {
      await makeCa(path.join(dir, String(i)), 'c1', { next: i > 0 });
      roots.push(fs.readFileSync(i > 0 ? tlsFiles(path.join(dir, String(i))).nextCa : tlsFiles(path.join(dir, String(i))).ca, 'utf8'));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

interface SimNode {
  id: string;
  role: 'manager' | 'worker';
  up: boolean;
  trusts: string[];
  /** The key that signed its certificate, and the key its cross-signed twin chains to (if it shows one). */
  issuer: string;
  cross?: string;
  signing?: string;
  next?: string;
  member?: string[];
  renewAt: number;
}

/** A peer (or an etcd member) that trusts `roots` takes `n`'s certificate: its issuer or its twin's is among them. */
function accepts(trusted: string[], n: SimNode): boolean {
  const keys = new Set(trusted.map((r) => keyDigest(r)));
  return keys.has(n.issuer) || (!!n.cross && keys.has(n.cross));
}

function report(n: SimNode): TlsReport | undefined {
  if (!n.up) return undefined;
  const signs = [n.signing, n.next].filter((k): k is string => !!k);
  return { trusts: n.trusts.map(certDigest), issuer: n.issuer, ...(n.role === 'manager' ? { signs, member: n.member?.map(certDigest) } : {}) };
}

test('rotations and renewals, generated: peers and etcd members always take each other\'s certificates, and every rotation ends with one root', () => {
  const YEAR = 365 * 86_400_000;
  let ended = 0;
  let renewedForExpiry = 0;
  for (let seed = 1; seed <= 1500; seed++) {
    const rand = seededRandom(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const managers = 1 + Math.floor(rand() * 3);
    const root0 = roots[0];
    const k0 = keyDigest(root0);
    let now = 0;
    const nodes: SimNode[] = Array.from({ length: managers + Math.floor(rand() * 4) }, (_, i) => ({
      id: `n${i}`, role: i < managers ? 'manager' : 'worker', up: true, trusts: [root0], issuer: k0, renewAt: YEAR * (0.5 + rand() * 0.3),
      ...(i < managers ? { signing: k0, member: [root0] } : {}),
    }));
    let ca: CaSpec = { root: root0, forceRotate: 0, expirySeconds: 90 * 86_400 };
    let unused = roots.slice(1);
    const holder = (key: string) => nodes.find((m) => m.up && m.role === 'manager' && (m.signing === key || m.next === key));
    const check = (when: string) => {
      for (const a of nodes.filter((n) => n.up)) {
        for (const b of nodes.filter((n) => n.up)) assert.ok(accepts(b.trusts, a), `seed ${seed}, ${when}: ${b.id} refuses ${a.id}`);
        for (const m of nodes.filter((n) => n.up && n.member)) assert.ok(accepts(m.member!, a), `seed ${seed}, ${when}: ${m.id}'s etcd member refuses ${a.id}`);
      }
    };
    /** One of the node's steps, carried out; whether it had any. */
    const act = (n: SimNode): boolean => {
      const steps = nodeSteps(ca, { ...report(n)!, role: n.role, renewAt: n.renewAt, signingKey: n.signing, nextKey: n.next, twin: !!n.cross }, now);
      const s = steps.length ? pick(steps) : undefined;
      if (!s) return false;
      if (s.kind === 'trust') n.trusts = s.roots;
      else if (s.kind === 'adopt') [n.signing, n.next] = [n.next, undefined];
      else if (s.kind === 'member') n.member = [...n.trusts];
      else if (s.kind === 'fetch-key') {
        if (holder(s.key)) n.next = s.key;
      } else {
        const m = holder(s.issuer);
        if (!m) return true;
        n.issuer = s.issuer;
        // Signed with a manager's next key during a rotation: shown with the twin, which the root of the time signed.
        n.cross = ca.rotation && m.signing !== s.issuer ? keyDigest(ca.root) : undefined;
        n.renewAt = now + YEAR * (0.5 + rand() * 0.3);
        if (s.why === 'expiry') renewedForExpiry++;
      }
      check(`${n.id} ${s.kind}`);
      return true;
    };
    let rotations = 0;
    for (let round = 0; round < 400; round++) {
      const r = rand();
      if (r < 0.03 && unused.length && rotations < 3) {
        const by = pick(nodes.filter((n) => n.up && n.role === 'manager'));
        if (!by) continue;
        const next = unused[0];
        unused = unused.slice(1);
        ca = { ...ca, rotation: { root: next, cross: 'twin', by: by.id }, forceRotate: ca.forceRotate + 1 };
        by.next = keyDigest(next);
        rotations++;
      } else if (r < 0.06) {
        const n = pick(nodes);
        // A manager always stays up: the cluster's store needs one.
        const lastManager = n.role === 'manager' && n.up && nodes.filter((m) => m.up && m.role === 'manager').length === 1;
        if (!lastManager) n.up = !n.up;
      } else if (r < 0.1) {
        now += YEAR * rand() * 0.4;
      } else {
        const n = pick(nodes.filter((x) => x.up));
        act(n);
      }
      if (rotationDone(ca, nodes.map((n) => ({ role: n.role, tls: report(n) })))) {
        ca = { root: ca.rotation!.root, forceRotate: ca.forceRotate, expirySeconds: ca.expirySeconds };
        ended++;
      }
      check(`round ${round}`);
    }
    // Every node up and acting: it settles on one root, which signed every certificate and every manager signs with.
    for (const n of nodes) n.up = true;
    for (let i = 0, busy = true; busy && i < 100; i++) {
      busy = false;
      for (const n of nodes) busy = act(n) || busy;
      if (rotationDone(ca, nodes.map((n) => ({ role: n.role, tls: report(n) })))) {
        ca = { root: ca.rotation!.root, forceRotate: ca.forceRotate, expirySeconds: ca.expirySeconds };
        ended++;
        busy = true;
      }
    }
    assert.equal(ca.rotation, undefined, `seed ${seed}: the rotation never ended`);
    const key = keyDigest(ca.root);
    for (const n of nodes) {
      assert.deepEqual(n.trusts, trustedRoots(ca), `seed ${seed}: ${n.id} trusts more than the root`);
      assert.equal(n.issuer, key, `seed ${seed}: ${n.id}'s certificate is from another root`);
      assert.equal(n.cross, undefined, `seed ${seed}: ${n.id}'s certificate is still shown with a twin`);
      if (n.role === 'manager') assert.equal(n.signing, key, `seed ${seed}: ${n.id} signs with another key`);
      if (n.member) assert.deepEqual(n.member, [ca.root], `seed ${seed}: ${n.id}'s member trusts more than the root`);
    }
  }
  // The cases did what they are for: rotations ended (some overlapping, some with nodes down) and certificates ran out.
  assert.ok(ended > 1500 && renewedForExpiry > 1500, `${ended} rotations ended, ${renewedForExpiry} renewals for expiry`);
});

test('a rotation waits for a node that is down, and for a manager that cannot sign with the new key yet', () => {
  const [old, next] = roots;
  const ca: CaSpec = { root: old, rotation: { root: next, cross: 'twin', by: 'm1' }, forceRotate: 1, expirySeconds: 3600 };
  const k = keyDigest(next);
  const d = certDigest(next);
  const done = (tls: (TlsReport | undefined)[]) => rotationDone(ca, [{ role: 'manager', tls: tls[0] }, { role: 'worker', tls: tls[1] }]);
  const m: TlsReport = { trusts: [certDigest(old), d], issuer: k, signs: [keyDigest(old), k], member: [certDigest(old), d] };
  const w: TlsReport = { trusts: [certDigest(old), d], issuer: k };
  assert.equal(done([m, w]), true);
  assert.equal(done([m, undefined]), false);
  assert.equal(done([{ ...m, signs: [keyDigest(old)] }, w]), false);
  assert.equal(done([{ ...m, member: [certDigest(old)] }, w]), false);
  assert.equal(done([m, { ...w, issuer: keyDigest(old) }]), false);
  assert.equal(rotationDone({ ...ca, rotation: undefined }, [{ role: 'worker', tls: w }]), false);
});

test('a rotation whose new key no manager up holds, for 30 s, is orphaned (the leader starts it again); a root given by hand never is', () => {
  const [old, next] = roots;
  const k = keyDigest(next);
  const ca: CaSpec = { root: old, rotation: { root: next, cross: 'twin', by: 'm1', at: 1000 }, forceRotate: 1, expirySeconds: 3600 };
  const holder = { role: 'manager' as const, ready: true, tls: { trusts: [], issuer: '', signs: [keyDigest(old), k] } };
  const other = { role: 'manager' as const, ready: true, tls: { trusts: [], issuer: '', signs: [keyDigest(old)] } };
  assert.equal(rotationOrphaned(ca, [holder, other], 1000 + ORPHANED_AFTER_MS + 1), false);
  assert.equal(rotationOrphaned(ca, [{ ...holder, ready: false }, other], 1000 + ORPHANED_AFTER_MS + 1), true);
  assert.equal(rotationOrphaned(ca, [{ ...holder, ready: false }, other], 1000 + ORPHANED_AFTER_MS - 1), false, 'not before the wait');
  assert.equal(rotationOrphaned({ ...ca, rotation: { ...ca.rotation!, given: true } }, [other], 1000 + ORPHANED_AFTER_MS + 1), false);
  assert.equal(rotationOrphaned({ ...ca, rotation: undefined }, [other], 1000 + ORPHANED_AFTER_MS + 1), false);
});

test('renewal falls between half and four fifths of a certificate\'s life; names are read from the DER', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rot-'));
  try {
    await makeCa(dir, 'c1');
    const at: number[] = [];
    for (let i = 0; i < 6; i++) {
      await issueOwn(dir, { nodeId: `n${i}`, clusterId: 'c1', role: 'worker', ip: '10.0.0.1' }, 7200);
      const cert = new X509Certificate(fs.readFileSync(tlsFiles(dir).cert));
      const from = Date.parse(cert.validFrom);
      const life = Date.parse(cert.validTo) - from;
      const f = (renewAt(cert) - from) / life;
      assert.ok(f >= 0.5 && f <= 0.8, `renewal at ${f} of its life`);
      assert.equal(renewAt(cert), renewAt(new X509Certificate(fs.readFileSync(tlsFiles(dir).cert))), 'the same point after a restart');
      at.push(f);
      // The leaf's issuer, as DER, is its CA's subject byte for byte, and differs from its own subject.
      const ca = new X509Certificate(fs.readFileSync(tlsFiles(dir).ca));
      assert.deepEqual(names(cert).issuer, names(ca).subject);
      assert.notDeepEqual(names(cert).subject, names(ca).subject);
      assert.deepEqual(names(ca).issuer, names(ca).subject);
    }
    assert.ok(new Set(at.map((f) => f.toFixed(3))).size > 1, 'nodes issued together renew at different points');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
