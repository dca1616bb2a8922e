import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
  /** The CA this node signs with (a manager) or was given at its join. */
  ca: string;
  caKey: string;
  /** The roots this node trusts: the CA's alone, or during a rotation the old and the new (absent: ca.crt alone, a cluster made before rotations). */
  trust: string;
  /** Its certificate (during a rotation followed by the new root cross-signed by the old, so peers that trust only the old accept it). */
  cert: string;
  key: string;
  /** A manager's, during a rotation: the new root, its key, and the new root cross-signed by the old. */
  nextCa: string;
  nextCaKey: string;
  nextCross: string;
}

export function tlsFiles(dir: string): TlsFiles {
  const f = (name: string) => path.join(dir, name);
  return {
    ca: f('ca.crt'), caKey: f('ca.key'), trust: f('trust.crt'), cert: f('node.crt'), key: f('node.key'),
    nextCa: f('next-ca.crt'), nextCaKey: f('next-ca.key'), nextCross: f('next-cross.crt'),
  };
}

/** The file of the roots this node trusts (etcd's --trusted-ca-file among its readers). */
export function trustFile(dir: string): string {
  const f = tlsFiles(dir);
  return fs.existsSync(f.trust) ? f.trust : f.ca;
}

/** The PEMs a TLS client or server of this node presents and trusts. */
export interface Credentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function readCredentials(dir: string): Credentials {
  const f = tlsFiles(dir);
  return { ca: fs.readFileSync(trustFile(dir)), cert: fs.readFileSync(f.cert), key: fs.readFileSync(f.key) };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
/** swarm's default NodeCertExpiry (90 days); nodes renew theirs before they run out. */
export const DEFAULT_CERT_EXPIRY_SECONDS = 90 * 86_400;
/** swarm's floor for NodeCertExpiry. */
export const MIN_CERT_EXPIRY_SECONDS = 3600;

/**
 * A new CA in `dir` (ten years, as swarm's root): the cluster's first, or
 * with `next` the one a rotation moves to (named apart from the old, so
 * chains never mix the two up).
 */
export async function makeCa(dir: string, clusterId: string, o: { next?: boolean } = {}): Promise<void> {
  const f = tlsFiles(dir);
  const [cert, key] = o.next ? [f.nextCa, f.nextCaKey] : [f.ca, f.caKey];
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const subj = `/CN=berth-cluster-ca/O=${clusterId}${o.next ? `/OU=${randomBytes(4).toString('hex')}` : ''}`;
  await run('openssl', ['req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '3650', '-subj', subj]);
  fs.chmodSync(key, 0o600);
}

/**
 * The next root cross-signed by the current one (`next-cross.crt`): the
 * same name and key, issued by the old root, so a certificate the new root
 * signed, shown with it, chains to the old root for a peer (or an etcd
 * member) that trusts only that one yet.
 */
export async function crossSign(dir: string): Promise<string> {
  const f = tlsFiles(dir);
  const cross = await caSign({ cert: f.ca, key: f.caKey }, ['-ss_cert', f.nextCa, '-preserveDN'], 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n', new Date(Date.now() + 3650 * 86_400_000));
  fs.writeFileSync(f.nextCross, cross);
  return cross;
}

/**
 * Signs with a CA through `openssl ca` (which, unlike `openssl x509`, takes
 * an end date to the second: swarm's expiry may be an hour), in a scratch
 * folder of its own for the database `openssl ca` insists on.
 */
async function caSign(ca: { cert: string; key: string }, what: string[], ext: string, notAfter: Date, input?: string): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ca-'));
  try {
    fs.writeFileSync(path.join(tmp, 'index.txt'), '');
    fs.writeFileSync(path.join(tmp, 'ext.cnf'), ext);
    fs.writeFileSync(path.join(tmp, 'ca.cnf'), [
      '[ca]', 'default_ca = berth', '[berth]', `database = ${tmp}/index.txt`, `new_certs_dir = ${tmp}`, `serial = ${tmp}/serial`, 'default_md = sha256',
      'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', 'organizationName = optional', 'organizationalUnitName = optional', '',
    ].join('\n'));
    const out = path.join(tmp, 'out.crt');
    // Valid from a minute ago: a peer whose clock is a little behind still takes it.
    const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
    await run('openssl', [
      'ca', '-batch', '-config', path.join(tmp, 'ca.cnf'), '-cert', ca.cert, '-keyfile', ca.key, ...what, '-out', out, '-notext', '-rand_serial',
      '-startdate', stamp(new Date(Date.now() - 60_000)), '-enddate', stamp(notAfter), '-extfile', path.join(tmp, 'ext.cnf'),
    ], input === undefined ? {} : { input });
    return fs.readFileSync(out, 'utf8');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
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
 * Signs a node's request with the CA in `caDir` (with `next`, the root a
 * rotation moves to; with `twin` too, the certificate is followed by that
 * root cross-signed by the old), valid for `seconds`. The subject is the signer's, not the
 * request's: who a node is comes from its token, never from what it asks for.
 */
export async function signRequest(caDir: string, csr: string, who: NodeIdentity, o: { seconds?: number; next?: boolean; twin?: boolean } = {}): Promise<string> {
  if (!/^-----BEGIN CERTIFICATE REQUEST-----/.test(csr.trim())) throw invalidArgument('a certificate request (PEM) is required to join');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(who.ip)) throw invalidArgument(`invalid node address ${JSON.stringify(who.ip)}`);
  const f = tlsFiles(caDir);
  const ca = o.next ? { cert: f.nextCa, key: f.nextCaKey } : { cert: f.ca, key: f.caKey };
  const ext = `subjectAltName=IP:${who.ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`;
  const subj = ['-subj', `/CN=${who.nodeId}/O=${who.clusterId}/OU=swarm-${who.role}`, '-in', '/dev/stdin'];
  const cert = await caSign(ca, subj, ext, new Date(Date.now() + (o.seconds ?? DEFAULT_CERT_EXPIRY_SECONDS) * 1000), csr);
  return o.next && o.twin ? `${cert.trim()}\n${fs.readFileSync(f.nextCross, 'utf8').trim()}\n` : cert;
}

/** A node's own certificate from its own CA (the first manager, at init). */
export async function issueOwn(dir: string, who: NodeIdentity, seconds?: number): Promise<void> {
  const csr = await makeKeyAndRequest(dir);
  fs.writeFileSync(tlsFiles(dir).cert, await signRequest(dir, csr, who, { seconds }));
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
