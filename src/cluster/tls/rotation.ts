import { certDigest, keyDigest } from './cert-info';

/**
 * The cluster's CA, its rotation and its nodes' renewals as a pure plan
 * (swarm's `swarm ca --rotate`): each node, from what the store says and
 * what it holds, learns its next step; the leader learns when the
 * rotation is done. A rotation goes:
 *  1. a manager makes a new root and its twin cross-signed by the old;
 *     the store names them (`rotation`);
 *  2. every node trusts both roots; every manager fetches the new key;
 *     every node gets a certificate from the new root, shown with the
 *     twin, so peers that trust only the old root take it all along;
 *  3. once every node shows such a certificate and every manager holds
 *     the new key, the leader makes the new root the root; nodes trust it
 *     alone, managers sign with it. A node down blocks the end (as swarm:
 *     `node rm` it), never the cluster.
 */

/** The cluster's CA as the store holds it. */
export interface CaSpec {
  /** The root every node trusts (PEM). */
  root: string;
  /** A rotation under way: the new root, its twin cross-signed by the old root, the manager that made them and when, and whether the root was given (`--ca-cert`). */
  rotation?: { root: string; cross: string; by: string; at?: number; given?: boolean };
  /** docker's CAConfig.ForceRotate as last asked. */
  forceRotate: number;
  /** docker's CAConfig.NodeCertExpiry, in seconds: how long the certificates signed from now on last. */
  expirySeconds: number;
}

/** What a node holds, as it reports it with its liveness (digests: certDigest for roots, keyDigest for keys). */
export interface TlsReport {
  /** The roots it trusts, the first the one it anchors to (swarm's TrustRoot). */
  trusts: string[];
  /** The key that signed its certificate. */
  issuer: string;
  /** A manager's: the CA keys it can sign with (the root's, and during a rotation the new one's). */
  signs?: string[];
  /** A manager's: the roots its etcd member was started with (etcd reads its trusted CAs once). */
  member?: string[];
}

export type CaStep =
  /** Trust these roots (PEMs), and no others. */
  | { kind: 'trust'; roots: string[] }
  /** A manager that signs with another key than the root's, and holds the root's as the next: it signs with that one now. */
  | { kind: 'adopt' }
  /** A manager that cannot sign with the key it must: it fetches it from a manager that can. */
  | { kind: 'fetch-key'; key: string }
  /** A new certificate, signed by the key that is `issuer`. */
  | { kind: 'renew'; issuer: string; why: 'rotation' | 'expiry' }
  /** A manager whose etcd member trusts other roots than the node: the member starts again (one manager at a time). */
  | { kind: 'member' };

/** What a node does next (at most one step of each kind, in this order). */
export function nodeSteps(ca: CaSpec, held: TlsReport & { role: 'manager' | 'worker'; renewAt: number; nextKey?: string; signingKey?: string; twin?: boolean }, now: number): CaStep[] {
  const steps: CaStep[] = [];
  const rootKey = keyDigest(ca.root);
  const wantedKey = ca.rotation ? keyDigest(ca.rotation.root) : rootKey;
  if (held.role === 'manager') {
    if (!ca.rotation && held.signingKey !== rootKey && held.nextKey === rootKey) steps.push({ kind: 'adopt' });
    else if (held.signingKey !== wantedKey && held.nextKey !== wantedKey) steps.push({ kind: 'fetch-key', key: wantedKey });
  }
  const roots = trustedRoots(ca);
  const trusts = roots.map(certDigest);
  if (trusts.join() !== held.trusts.join()) steps.push({ kind: 'trust', roots });
  if (held.member && held.member.join() !== trusts.join()) steps.push({ kind: 'member' });
  // After a rotation, a certificate still shown with the twin is renewed too: a joiner pins the new root, which that chain hides.
  if (held.issuer !== wantedKey || (held.twin && !ca.rotation)) steps.push({ kind: 'renew', issuer: wantedKey, why: 'rotation' });
  else if (now >= held.renewAt) steps.push({ kind: 'renew', issuer: wantedKey, why: 'expiry' });
  return steps;
}

/** The roots a node trusts: the root, and during a rotation the new one after it. */
export function trustedRoots(ca: CaSpec): string[] {
  return ca.rotation ? [ca.root, ca.rotation.root] : [ca.root];
}

/**
 * Whether the rotation is done: every node's certificate is from the new
 * root and every node trusts it (certificates signed after the end come
 * without the twin); every manager can sign with it (one that could not would be left
 * unable to sign once the old key goes) and its etcd member, if it runs
 * one, trusts it (so certificates signed after the end, without the twin,
 * are taken). Nodes
 * that report nothing (down) hold it back.
 */
export function rotationDone(ca: CaSpec, nodes: { role: 'manager' | 'worker'; tls?: TlsReport }[]): boolean {
  if (!ca.rotation) return false;
  const key = keyDigest(ca.rotation.root);
  const root = certDigest(ca.rotation.root);
  return nodes.every((n) => n.tls?.issuer === key && n.tls.trusts.includes(root) && (n.role !== 'manager' || (!!n.tls.signs?.includes(key) && (!n.tls.member || n.tls.member.includes(root)))));
}

/** How long a rotation's new key may be held by no manager that is up before the leader starts the rotation again. */
export const ORPHANED_AFTER_MS = 30_000;

/**
 * Whether a rotation's new key is lost: no manager that is up holds it
 * (the one that made it died before another fetched it), for a while. The
 * leader then starts it again with a key of its own; a root given by the
 * operator is not replaced by another (they are told to give it again).
 */
export function rotationOrphaned(ca: CaSpec, nodes: { role: 'manager' | 'worker'; ready: boolean; tls?: TlsReport }[], now: number): boolean {
  if (!ca.rotation || ca.rotation.given || now - (ca.rotation.at ?? 0) < ORPHANED_AFTER_MS) return false;
  const key = keyDigest(ca.rotation.root);
  return !nodes.some((n) => n.role === 'manager' && n.ready && n.tls?.signs?.includes(key));
}
