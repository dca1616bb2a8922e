import { createHash, X509Certificate } from 'node:crypto';

/**
 * What a certificate tells about trust, as swarm shows it (TLSInfo: the
 * trust root's PEM, the issuer's subject and public key as DER) and as
 * nodes report it to the managers (digests: short, and enough to compare).
 */

/** The PEM certificates in a bundle, in order. */
export function pemCerts(pem: string | Buffer): string[] {
  return String(pem).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Digests of the few roots a cluster has, kept: plans ask for them every round. */
const certDigests = new Map<string, string>();
const keyDigests = new Map<string, string>();
function memo(cache: Map<string, string>, pem: string, f: () => string): string {
  let d = cache.get(pem);
  if (d === undefined) {
    if (cache.size > 256) cache.clear();
    cache.set(pem, (d = f()));
  }
  return d;
}

/** sha256 of a certificate's DER: who a root is. */
export function certDigest(pem: string): string {
  return memo(certDigests, pem, () => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex'));
}

/** sha256 of a key's SubjectPublicKeyInfo: who signs (a root and its cross-signed twin share it). */
export function keyDigest(cert: X509Certificate | string): string {
  const of = () => createHash('sha256').update(spki(cert)).digest('hex');
  return typeof cert === 'string' ? memo(keyDigests, cert, of) : of();
}

export function spki(cert: X509Certificate | string): Buffer {
  const x = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  return x.publicKey.export({ type: 'spki', format: 'der' });
}

/** One DER element at `at`: its tag, where its content starts, where it ends. */
function element(der: Buffer, at: number): { tag: number; body: number; end: number } {
  const tag = der[at];
  let len = der[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[body + i];
    body += n;
  }
  if (body + len > der.length) throw new Error('truncated DER');
  return { tag, body, end: body + len };
}

/**
 * A certificate's issuer and subject names as DER (RFC 5280's
 * TBSCertificate: [version], serial, signature, issuer, validity, subject):
 * Node shows names only as text, and swarm's TLSInfo carries the DER.
 */
export function names(cert: X509Certificate | string): { issuer: Buffer; subject: Buffer } {
  const der = typeof cert === 'string' ? new X509Certificate(cert).raw : cert.raw;
  const tbs = element(der, element(der, 0).body);
  let f = element(der, tbs.body);
  if (f.tag === 0xa0) f = element(der, f.end); // the version, when not v1
  const signature = element(der, f.end);
  const issuer = element(der, signature.end);
  const validity = element(der, issuer.end);
  const subject = element(der, validity.end);
  return { issuer: der.subarray(signature.end, issuer.end), subject: der.subarray(validity.end, subject.end) };
}

/** swarm's TLSInfo of a root (or of the CA that signs): the trust root's PEM, its subject and public key, base64 as docker's JSON has []byte. */
export function tlsInfo(trustRoot: string, issuer: string): { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string } {
  return { TrustRoot: `${trustRoot.trim()}\n`, CertIssuerSubject: names(issuer).subject.toString('base64'), CertIssuerPublicKey: spki(issuer).toString('base64') };
}

/**
 * When a certificate is renewed: at a point between half and four fifths
 * of its life (swarm's window), picked from its serial so that a cluster's
 * nodes, issued together, do not all renew at once, and a restart keeps it.
 */
export function renewAt(cert: X509Certificate): number {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const spread = parseInt(createHash('sha256').update(cert.serialNumber).digest('hex').slice(0, 8), 16) / 0xffffffff;
  return from + (to - from) * (0.5 + 0.3 * spread);
}
