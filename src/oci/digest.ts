import { createHash } from 'node:crypto';
import { invalidArgument } from '../base/errors';

/** `sha256:<64 hex>` (sha512 accepted where the OCI spec allows it). */
export type Digest = string;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  if (!isDigest(s)) throw invalidArgument(`invalid digest: ${JSON.stringify(s)}`);
  const [algorithm, hex] = s.split(':') as ['sha256' | 'sha512', string];
  return { algorithm, hex };
}

export function sha256(data: string | Uint8Array): Digest {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export const digestHex = (d: Digest) => parseDigest(d).hex;
