import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from '../../base/exec';
import { invalidArgument } from '../../base/errors';

/**
 * The cluster's certificates (swarm's model): a CA made at init, held by
 * managers; each node a key of its own and a certificate the CA signed
 * for it (CN its node id, O the cluster, OU its role, its address as a SAN),
 * used both ways: to the store (etcd checks client certificates) and
 * between nodes. Made with Debian's openssl: Node can verify certificates
 * but not issue them.
 */
export interface TlsFiles {
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

export function tlsFiles(dir: string): TlsFiles {
  return { ca: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), cert: path.join(dir, 'node.crt'), key: path.join(dir, 'node.key') };
}

/** The PEMs a TLS client or server of this node presents and trusts. */
export interface Credentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function readCredentials(dir: string): Credentials {
  const f = tlsFiles(dir);
  return { ca: fs.readFileSync(f.ca), cert: fs.readFileSync(f.cert), key: fs.readFileSync(f.key) };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
/** As long as the CA: nodes' certificates are not rotated yet (swarm rotates 90-day ones), so they must not expire under a running cluster. */
export const NODE_CERT_DAYS = 3650;

/** A new CA in `dir` (ten years, as swarm's root). */
export async function makeCa(dir: string, clusterId: string): Promise<void> {
  const f = tlsFiles(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await run('openssl', ['req', '-x509', ...EC, '-keyout', f.caKey, '-out', f.ca, '-days', '3650', '-subj', `/CN=berth-cluster-ca/O=${clusterId}`]);
  fs.chmodSync(f.caKey, 0o600);
}

/** This node's key (made here, never sent) and a request for its certificate. */
export async function makeKeyAndRequest(dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = tlsFiles(dir).key;
  const csr = await run('openssl', ['req', '-new', ...EC, '-keyout', key, '-subj', '/CN=berth-node']);
  fs.chmodSync(key, 0o600);
  return csr.stdout;
}

export interface NodeIdentity {
  nodeId: string;
  clusterId: string;
  role: 'manager' | 'worker';
  /** Its address: a SAN, so peers (etcd's among them) can check who they reached. */
  ip: string;
}

/**
 * Signs a node's request with the CA in `caDir`. The subject is the
 * signer's, not the request's: who a node is comes from its token, never
 * from what it asks for.
 */
export async function signRequest(caDir: string, csr: string, who: NodeIdentity): Promise<string> {
  if (!/^-----BEGIN CERTIFICATE REQUEST-----/.test(csr.trim())) throw invalidArgument('a certificate request (PEM) is required to join');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(who.ip)) throw invalidArgument(`invalid node address ${JSON.stringify(who.ip)}`);
  const f = tlsFiles(caDir);
  const ext = path.join(caDir, `ext-${randomBytes(6).toString('hex')}.cnf`);
  fs.writeFileSync(ext, `subjectAltName=IP:${who.ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
  try {
    const r = await run('openssl', [
      'x509', '-req', '-CA', f.ca, '-CAkey', f.caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(NODE_CERT_DAYS),
      '-subj', `/CN=${who.nodeId}/O=${who.clusterId}/OU=swarm-${who.role}`, '-extfile', ext,
    ], { input: csr });
    return r.stdout;
  } finally {
    fs.rmSync(ext, { force: true });
  }
}

/** A node's own certificate from its own CA (the first manager, at init). */
export async function issueOwn(dir: string, who: NodeIdentity): Promise<void> {
  const csr = await makeKeyAndRequest(dir);
  fs.writeFileSync(tlsFiles(dir).cert, await signRequest(dir, csr, who));
}

/** The CA's digest as swarm's join tokens carry it: SHA-256 of its DER, in base 36, 50 digits. */
export function caDigest(ca: string | Buffer | X509Certificate): string {
  const der = ca instanceof X509Certificate ? ca.raw : new X509Certificate(ca).raw;
  return BigInt(`0x${createHash('sha256').update(der).digest('hex')}`).toString(36).padStart(50, '0');
}

/** swarm's token: SWMTKN-1-<the CA's digest>-<a secret of 25 base-36 digits>. */
export function joinToken(digest: string): string {
  return `SWMTKN-1-${digest}-${BigInt(`0x${randomBytes(16).toString('hex')}`).toString(36).padStart(25, '0').slice(-25)}`;
}

/** The CA digest a token pins (undefined: not of this shape). */
export function tokenDigest(token: string): string | undefined {
  return /^SWMTKN-1-([0-9a-z]{50})-\S+$/.exec(token)?.[1];
}
