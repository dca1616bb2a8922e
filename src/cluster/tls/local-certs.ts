import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { certDigest, keyDigest, pemCerts, renewAt } from './cert-info';
import { tlsFiles, trustFile } from './pki';
import type { TlsReport } from './rotation';

/** A CA as one manager hands it to another: its certificate, its key, and (a rotation's new root) its cross-signed twin. */
export interface CaKeyPair {
  cert: string;
  key: string;
  cross?: string;
}

/** What a node holds, as the rotation plan reads it. */
export type Held = TlsReport & { renewAt: number; signingKey?: string; nextKey?: string; twin: boolean };

/**
 * This node's certificate files as the CA's plan sees and changes them:
 * what it trusts, which key signed its certificate and when that runs
 * out, which CA keys it holds. Files are replaced whole (written aside,
 * renamed): etcd reads them at every handshake.
 */
export class LocalCerts {
  constructor(private readonly dir: string) {}

  private get files() {
    return tlsFiles(this.dir);
  }

  held(): Held {
    const f = this.files;
    const trusted = pemCerts(fs.readFileSync(trustFile(this.dir)));
    const chain = pemCerts(fs.readFileSync(f.cert));
    const leaf = new X509Certificate(chain[0]);
    // The key that signed it: one of the roots it trusts, or the twin it is shown with.
    const signer = [...trusted, ...chain.slice(1)].find((c) => leaf.verify(new X509Certificate(c).publicKey));
    const signingKey = fs.existsSync(f.caKey) ? keyDigest(fs.readFileSync(f.ca, 'utf8')) : undefined;
    const nextKey = fs.existsSync(f.nextCaKey) ? keyDigest(fs.readFileSync(f.nextCa, 'utf8')) : undefined;
    const signs = [signingKey, nextKey].filter((k): k is string => !!k);
    return { trusts: trusted.map(certDigest), issuer: signer ? keyDigest(signer) : '', renewAt: renewAt(leaf), twin: chain.length > 1, ...(signs.length ? { signs, signingKey, nextKey } : {}) };
  }

  trustedPem(): string {
    return fs.readFileSync(trustFile(this.dir), 'utf8');
  }

  writeTrust(roots: string[]): void {
    replace(this.files.trust, `${roots.map((r) => r.trim()).join('\n')}\n`);
  }

  /** A new certificate (and its chain) for the key made aside for it in `keyFrom`. */
  install(cert: string, keyFrom: string): void {
    const f = this.files;
    fs.renameSync(keyFrom, f.key);
    replace(f.cert, cert);
  }

  /** A CA key to sign with, `next` the one a rotation moves to. */
  holdCa(pair: CaKeyPair, next: boolean): void {
    const f = this.files;
    const [cert, key] = next ? [f.nextCa, f.nextCaKey] : [f.ca, f.caKey];
    replace(key, pair.key, 0o600);
    replace(cert, pair.cert);
    if (next && pair.cross) replace(f.nextCross, pair.cross);
  }

  /** The CA whose key is `key`, if this node holds it (for a manager that does not). */
  caPair(key: string): CaKeyPair | undefined {
    const f = this.files;
    for (const [cert, k, cross] of [[f.ca, f.caKey, undefined], [f.nextCa, f.nextCaKey, f.nextCross]] as const) {
      if (!fs.existsSync(k) || keyDigest(fs.readFileSync(cert, 'utf8')) !== key) continue;
      return { cert: fs.readFileSync(cert, 'utf8'), key: fs.readFileSync(k, 'utf8'), ...(cross && fs.existsSync(cross) ? { cross: fs.readFileSync(cross, 'utf8') } : {}) };
    }
    return undefined;
  }

  /** The rotation ended: the new root's key is the one to sign with; the old one goes. */
  adopt(): void {
    const f = this.files;
    replace(f.caKey, fs.readFileSync(f.nextCaKey, 'utf8'), 0o600);
    replace(f.ca, fs.readFileSync(f.nextCa, 'utf8'));
    for (const p of [f.nextCa, f.nextCaKey, f.nextCross]) fs.rmSync(p, { force: true });
  }
}

function replace(file: string, content: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.renameSync(tmp, file);
}
