import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { BerthError, errorMessage, invalidArgument, unavailable } from '../../base/errors';
import type { CaKeyPair } from './local-certs';
import { caDigest } from './pki';

/** What a node asks a manager for: the token it was given, a request for its certificate, and its address. */
export interface JoinRequest {
  token: string;
  csr: string;
  ip: string;
}

/** What the manager gives back: who the node now is, its certificate, the CA (and its key, to a manager), the store's endpoints. */
export interface JoinGrant {
  clusterId: string;
  nodeId: string;
  role: 'manager' | 'worker';
  cert: string;
  /** The roots to trust (two during a CA rotation). */
  ca: string;
  /** A manager's: the CA key to sign with, and its certificate. */
  caKey?: string;
  caCert?: string;
  endpoints: string[];
}

/** A node made a manager gets from a manager: its manager's certificate, the CA and the CA's key (every manager signs). */
export interface Promotion {
  cert: string;
  ca: string;
  caKey: string;
}

/** A renewed certificate (its chain; what to trust, the cluster's record says). */
export interface Renewal {
  cert: string;
}

type Creds = { ca: Buffer; cert: Buffer; key: Buffer };

/** The promoted node's side: asks a manager's endpoint, showing its own certificate of the cluster (which names it). */
export async function requestPromotion(addr: string, creds: Creds, csr: string): Promise<Promotion> {
  const body = await askManager<Promotion>(addr, creds, '/promote', { csr }, 'promotion');
  if (body.cert && body.ca && body.caKey) return body as Promotion;
  throw unavailable(`promotion at ${addr}: an answer without a certificate`);
}

/** A node's renewal: a new certificate for a new key, asked with the certificate it has (which names it). */
export async function requestRenewal(addr: string, creds: Creds, csr: string): Promise<Renewal> {
  const body = await askManager<Renewal>(addr, creds, '/renew', { csr }, 'renewal');
  if (body.cert) return body as Renewal;
  throw unavailable(`renewal at ${addr}: an answer without a certificate`);
}

/** A manager's: a CA key that another manager holds (`key`: its digest). */
export async function requestCaKey(addr: string, creds: Creds, key: string): Promise<CaKeyPair> {
  const body = await askManager<CaKeyPair>(addr, creds, '/ca-key', { key }, 'CA key');
  if (body.cert && body.key) return body as CaKeyPair;
  throw unavailable(`CA key at ${addr}: an answer without a key`);
}

async function askManager<T>(addr: string, creds: Creds, path: string, payload: unknown, what: string): Promise<Partial<T>> {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(addr);
  if (!m) throw invalidArgument(`invalid manager address ${JSON.stringify(addr)}: IP:PORT`);
  const { status, body } = await postJson<T>(addr, { host: m[1], port: Number(m[2]), path, ca: creds.ca, cert: creds.cert, key: creds.key, timeout: 30_000 }, payload);
  if (status !== 200) throw unavailable(`${what} at ${addr}: ${body.message ?? status}`);
  return body;
}

/** A JSON request to a manager's endpoint and its JSON answer (an answer that is not JSON, a timeout or a broken connection: unavailable). */
function postJson<T>(addr: string, o: https.RequestOptions & { timeout: number }, payload: unknown): Promise<{ status: number; body: { message?: string } & Partial<T> }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ ...o, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as { message?: string } & Partial<T> });
        } catch (e) {
          reject(unavailable(`the manager at ${addr} answered ${res.statusCode} with no JSON`, e));
        }
      });
    });
    req.on('timeout', () => req.destroy(unavailable(`the manager at ${addr} did not answer within ${o.timeout / 1000} s`)));
    req.on('error', (e) => reject(e instanceof BerthError ? e : unavailable(`${o.path} at ${addr}: ${errorMessage(e)}`, e)));
    req.end(JSON.stringify(payload));
  });
}

/**
 * The joiner's side: connects to a manager's join endpoint, and before
 * anything is sent checks that the manager's certificate was signed by a
 * CA whose digest is the token's (swarm's pinning: a token leads only to
 * its own cluster), then asks.
 */
export async function requestJoin(addr: string, digest: string, r: JoinRequest): Promise<JoinGrant> {
  const m = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|[a-z0-9.-]+):(\d+)$/i.exec(addr);
  if (!m) throw invalidArgument(`invalid manager address ${JSON.stringify(addr)}: HOST:PORT`);
  const [host, port] = [m[1], Number(m[2])];
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, timeout: 10_000 });
    s.once('secureConnect', () => resolve(s));
    s.once('timeout', () => {
      s.destroy();
      reject(unavailable(`no answer from a manager at ${addr} within 10 s`));
    });
    s.once('error', (e) => reject(unavailable(`cannot reach a manager at ${addr}: ${errorMessage(e)}`, e)));
  });
  try {
    pinned(socket, digest);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  try {
    const { status, body } = await postJson<JoinGrant>(addr, { host, port, path: '/join', createConnection: () => socket, timeout: 60_000 }, r);
    if (status === 200) return body as JoinGrant;
    throw status === 400 ? invalidArgument(body.message ?? 'join refused') : unavailable(body.message ?? `join failed (${status})`);
  } finally {
    socket.destroy();
  }
}

/**
 * The peer's chain leads to a CA with the token's digest, each link signed
 * by the next, from a manager's certificate (during a CA rotation the way
 * goes through the new root's twin, which the old root signed).
 */
function pinned(socket: tls.TLSSocket, digest: string): void {
  const refuse = (why: string) => invalidArgument(`rpc error: code = InvalidArgument desc = remote CA does not match fingerprint of the join token (${why})`);
  const chain: X509Certificate[] = [];
  for (let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c?.raw && chain.length < 8; c = c.issuerCertificate) {
    const x = new X509Certificate(c.raw);
    if (chain.some((y) => y.fingerprint256 === x.fingerprint256)) break; // a root is its own issuer
    chain.push(x);
  }
  if (chain.length < 2) throw refuse('the manager showed no CA');
  const at = chain.findIndex((c, i) => i > 0 && caDigest(c) === digest);
  if (at < 0) throw refuse('another CA');
  const linked = chain.slice(0, at).every((c, i) => c.verify(chain[i + 1].publicKey));
  if (!linked || !/OU=swarm-manager/.test(chain[0].subject)) throw refuse('not a manager\'s certificate of that CA');
}
