import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage, invalidArgument, unavailable } from '../base/errors';
import type { Logger } from '../base/log';
import type { EtcdMember } from './store/etcd-member';
import type { ClusterInfo, ClusterStore, Snapshot } from './store/store';
import { certDigest, keyDigest, pemCerts } from './tls/cert-info';
import { requestCaKey, requestRenewal } from './tls/join';
import { type CaKeyPair, type Held, LocalCerts } from './tls/local-certs';
import { caDigest, crossSign, type Credentials, DEFAULT_CERT_EXPIRY_SECONDS, joinToken, makeCa, makeKeyAndRequest, MIN_CERT_EXPIRY_SECONDS, type NodeIdentity, signRequest, tlsFiles } from './tls/pki';
import { type CaSpec, type CaStep, nodeSteps, rotationDone, rotationOrphaned, type TlsReport, trustedRoots } from './tls/rotation';

/** What a look at the CA needs of the node. */
export interface FollowContext {
  store: ClusterStore;
  nodeId: string;
  role: 'manager' | 'worker';
  clusterId: string;
  ip: string;
  leader: () => Promise<boolean>;
  member?: EtcdMember;
  creds: () => Credentials;
  /** Writes the node's liveness (with this CA's report) now. */
  poke: () => void;
}

/** What a node reports (digests), from what it holds. */
function reportOf(held: Held, member: EtcdMember | undefined): TlsReport {
  const { renewAt: _r, signingKey: _s, nextKey: _n, twin: _t, ...report } = held;
  return { ...report, ...(member?.trusts ? { member: member.trusts } : {}) };
}

/**
 * The cluster's CA at work on one node (swarm's CA, on etcd): managers
 * sign joins, renewals and promotions with the key the plan says
 * (tls/rotation.ts), start rotations, and hand a rotation's new key to
 * each other; every node follows the plan every few seconds (trust, keys,
 * renewal), and the leader ends a rotation once every node has come along.
 */
export class ClusterCa {
  private readonly certs: LocalCerts;
  /** What this node reports with its liveness (read at each look). */
  report?: TlsReport;
  /** The given root whose lost key was said (once). */
  private warned?: string;

  constructor(
    private readonly tlsDir: string,
    private readonly logger: Logger,
  ) {
    this.certs = new LocalCerts(tlsDir);
  }

  /**
   * A certificate for `who`, signed as the cluster's CA wants now: during a
   * rotation by the new root (shown with its twin), which this manager
   * must hold; for the cluster's expiry.
   */
  async sign(ca: CaSpec | undefined, csr: string, who: NodeIdentity): Promise<string> {
    if (!ca) return signRequest(this.tlsDir, csr, who);
    const held = this.certs.held();
    const wanted = keyDigest(ca.rotation?.root ?? ca.root);
    if (held.signingKey === wanted) return signRequest(this.tlsDir, csr, who, { seconds: ca.expirySeconds });
    if (held.nextKey !== wanted) throw unavailable('this manager does not hold the cluster CA\'s key yet: ask another manager, or again in a moment');
    return signRequest(this.tlsDir, csr, who, { seconds: ca.expirySeconds, next: true, twin: !!ca.rotation });
  }

  /** The roots a node of the cluster trusts now, as one PEM bundle. */
  trustBundle(ca: CaSpec | undefined): string {
    return ca ? `${trustedRoots(ca).map((r) => r.trim()).join('\n')}\n` : this.certs.trustedPem();
  }

  /** A CA key this manager holds, for another manager (a rotation's new one). */
  async caKey(key: string): Promise<CaKeyPair> {
    const pair = this.certs.caPair(key);
    if (!pair) throw unavailable('this manager does not hold that CA key');
    return pair;
  }

  /** The CA a new cluster starts with. */
  static initial(tlsDir: string, expirySeconds?: number): CaSpec {
    return { root: fs.readFileSync(tlsFiles(tlsDir).ca, 'utf8'), forceRotate: 0, expirySeconds: expirySeconds ?? DEFAULT_CERT_EXPIRY_SECONDS };
  }

  /**
   * docker's CAConfig in a swarm update: the expiry of certificates signed
   * from now on, and a rotation when ForceRotate grows or a CA is given
   * (SigningCACert with SigningCAKey: that one becomes the new root). An
   * external CA is refused: Berth's managers sign.
   */
  async update(info: ClusterInfo, given: { NodeCertExpiry?: number; ForceRotate?: number; SigningCACert?: string; SigningCAKey?: string; ExternalCAs?: unknown[] }, by: string): Promise<CaSpec> {
    const ca = info.ca ?? ClusterCa.initial(this.tlsDir);
    if (given.ExternalCAs?.length) throw invalidArgument('an external CA is not supported by Berth\'s cluster: its managers sign the nodes\' certificates');
    let expirySeconds = ca.expirySeconds;
    if (given.NodeCertExpiry !== undefined) {
      expirySeconds = Math.round(given.NodeCertExpiry / 1e9);
      if (!Number.isFinite(expirySeconds) || expirySeconds < MIN_CERT_EXPIRY_SECONDS) throw invalidArgument(`node certificate expiry must be at least ${MIN_CERT_EXPIRY_SECONDS / 3600}h0m0s`);
    }
    const force = given.ForceRotate ?? ca.forceRotate;
    const signing = !!(given.SigningCACert || given.SigningCAKey);
    if (signing && !(given.SigningCACert && given.SigningCAKey)) throw invalidArgument('a new signing CA needs both its certificate and its key');
    if (force === ca.forceRotate && !signing) return { ...ca, expirySeconds };
    if (signing) {
      const cert = givenRoot(given.SigningCACert!, given.SigningCAKey!);
      if (ca.root.trim() === cert.trim()) throw invalidArgument('the signing CA given is the cluster\'s root already');
      this.certs.holdCa({ cert, key: given.SigningCAKey! }, true);
    } else {
      await makeCa(this.tlsDir, info.id, { next: true });
    }
    this.logger.info('cluster CA rotation started', { forceRotate: force });
    return { ...ca, expirySeconds, forceRotate: force, rotation: await this.nextRotation(by, signing) };
  }

  /** The rotation to the root just put in place as the next one: its twin, cross-signed by the current root here. */
  private async nextRotation(by: string, given: boolean): Promise<NonNullable<CaSpec['rotation']>> {
    const cross = await crossSign(this.tlsDir);
    return { root: fs.readFileSync(tlsFiles(this.tlsDir).nextCa, 'utf8'), cross, by, at: Date.now(), ...(given ? { given } : {}) };
  }

  /**
   * One look: the plan's steps for this node, carried out; the leader ends
   * a rotation every node has come along with. Says whether this node's
   * certificate or trust changed (its TLS clients and servers must be made
   * anew), and whether to look again soon (a rotation under way moves on
   * as fast as its nodes' reports do).
   */
  async follow(o: FollowContext): Promise<{ reload: boolean; soon: boolean }> {
    const got = await o.store.info();
    if (!got) return { reload: false, soon: false };
    let ca = got.info.ca;
    if (!ca) {
      // A cluster made before rotations: a manager writes the CA down from its own (the same everywhere).
      // Another manager may have written it first (the record moved on): the next look reads theirs.
      if (o.role === 'manager') {
        await o.store.updateInfo({ ...got.info, ca: ClusterCa.initial(this.tlsDir) }, got.index)
          .catch((e: unknown) => this.logger.debug('cluster CA written down from this manager\'s own; the next look tries again', { error: errorMessage(e) }));
      }
      return { reload: false, soon: false };
    }
    const member = o.member?.trusts ? { member: o.member.trusts } : {};
    const held = this.certs.held();
    this.report = reportOf(held, o.member);
    const steps = nodeSteps(ca, { ...held, role: o.role, ...member }, Date.now());
    let reload = false;
    let read: Snapshot['nodes'] | undefined;
    const nodesNow = async () => (read ??= await o.store.nodes());
    try {
      for (const step of steps) reload = (await this.carryOut(step, ca, o, nodesNow)) || reload;
    } catch (e) {
      this.logger.warn('cluster CA step; the next look tries again', { error: errorMessage(e) });
    }
    if (steps.length) {
      // What changed is told now: the others' steps (and the end of a rotation) wait on this node's report.
      this.report = reportOf(this.certs.held(), o.member);
      o.poke();
    }
    const soon = !!ca.rotation || steps.length > 0;
    if (!ca.rotation || o.role !== 'manager' || !(await o.leader())) return { reload, soon };
    const nodes = await nodesNow();
    if (rotationDone(ca, nodes)) {
      const root = ca.rotation.root;
      ca = { root, forceRotate: ca.forceRotate, expirySeconds: ca.expirySeconds };
      // As swarm: the join tokens pin the new root, with new secrets.
      const digest = caDigest(root);
      await o.store.updateInfo({ ...got.info, ca, joinTokens: { worker: joinToken(digest), manager: joinToken(digest) }, updatedAt: new Date().toISOString() }, got.index);
      this.logger.info('cluster CA rotation done: every node holds a certificate of the new root');
    } else if (rotationOrphaned(ca, nodes, Date.now())) {
      this.logger.warn('cluster CA rotation: no manager up holds the new key (its maker is gone); the leader starts it again with a key of its own');
      await makeCa(this.tlsDir, got.info.id, { next: true });
      await o.store.updateInfo({ ...got.info, ca: { ...ca, rotation: await this.nextRotation(o.nodeId, false) }, updatedAt: new Date().toISOString() }, got.index);
    } else if (ca.rotation.given && this.warned !== ca.rotation.root && rotationOrphaned({ ...ca, rotation: { ...ca.rotation, given: false } }, nodes, Date.now())) {
      this.warned = ca.rotation.root;
      this.logger.warn('cluster CA rotation: no manager up holds the key of the CA given (its maker is gone): give it again with swarm ca --rotate --ca-cert --ca-key');
    }
    return { reload, soon };
  }

  private async carryOut(step: CaStep, ca: CaSpec, o: FollowContext, nodesNow: () => Promise<Snapshot['nodes']>): Promise<boolean> {
    switch (step.kind) {
      case 'adopt':
        this.certs.adopt();
        return false;
      case 'trust':
        this.certs.writeTrust(step.roots);
        this.logger.info('cluster CA: the roots this node trusts changed', { roots: step.roots.length });
        return true;
      case 'fetch-key': {
        const pair = await this.fromManagers(await nodesNow(), o.nodeId, step.key, (addr) => requestCaKey(addr, o.creds(), step.key));
        this.certs.holdCa(pair, step.key !== keyDigest(ca.root));
        return false;
      }
      case 'renew': {
        const aside = path.join(this.tlsDir, 'renew');
        const csr = await makeKeyAndRequest(aside);
        try {
          const held = this.certs.held();
          const self = held.signingKey === step.issuer || held.nextKey === step.issuer;
          const cert = self
            ? await this.sign(ca, csr, { nodeId: o.nodeId, clusterId: o.clusterId, role: o.role, ip: o.ip })
            : (await this.fromManagers(await nodesNow(), o.nodeId, step.issuer, (addr) => requestRenewal(addr, o.creds(), csr))).cert;
          this.certs.install(cert, tlsFiles(aside).key);
          this.logger.info('cluster certificate renewed', { why: step.why, notAfter: new X509Certificate(pemCerts(cert)[0]).validTo });
        } finally {
          fs.rmSync(aside, { recursive: true, force: true });
        }
        return true;
      }
      case 'member': {
        // One manager at a time, by id: each waits until those before it that are up report their members done (and
        // a member restarted is back in the quorum before its manager reports), so the store keeps its quorum.
        const wanted = trustedRoots(ca).map(certDigest).join();
        const before = (await nodesNow()).filter((n) => n.role === 'manager' && n.ready && n.id < o.nodeId);
        if (!o.member || before.some((n) => n.tls?.member?.join() !== wanted)) return false;
        this.logger.info('cluster CA: the etcd member starts again to trust the roots the node trusts');
        await o.member.restart();
        return false;
      }
    }
  }

  /** Asks the managers that hold `key` (themselves not this node), in turn, until one answers. */
  private async fromManagers<T>(nodes: Snapshot['nodes'], self: string, key: string, ask: (addr: string) => Promise<T>): Promise<T> {
    const holders = nodes.filter((n) => n.role === 'manager' && n.ready && n.id !== self && n.tls?.signs?.includes(key));
    let last: unknown = unavailable('no manager up holds the CA key needed');
    for (const m of holders) {
      try {
        return await ask(m.addr);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
}

/** A CA given to rotate to: a CA certificate whose key is the one given. */
function givenRoot(certPem: string, keyPem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw invalidArgument(`the signing CA certificate is not a PEM certificate: ${errorMessage(e)}`);
  }
  if (!cert.ca) throw invalidArgument('the signing CA certificate is not a CA\'s');
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw invalidArgument('the signing CA key does not match its certificate');
  } catch (e) {
    if (e instanceof Error && /does not match/.test(e.message)) throw e;
    throw invalidArgument(`the signing CA key is not a PEM private key: ${errorMessage(e)}`);
  }
  return `${cert.toString().trim()}\n`;
}

