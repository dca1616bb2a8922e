import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../base/errors';

/** What a registry's certs.d folder holds: extra CA roots and an optional client certificate. */
export interface RegistryTls {
  /** PEM roots (`*.crt`), trusted besides the system's. */
  ca: string[];
  /** PEM client certificate (`*.cert`) and its key (`*.key`) for mutual TLS. */
  cert?: string;
  key?: string;
  /** The folder, for error messages. */
  folder: string;
}

/**
 * Reads `<certsDir>/<host[:port]>/` as docker reads /etc/docker/certs.d:
 * `*.crt` are CA roots, `x.cert` goes with `x.key`. Undefined when the
 * folder does not exist. A certificate without its key (or a key without
 * its certificate) is an error rather than a silently anonymous client.
 */
export function readRegistryTls(certsDir: string, host: string): RegistryTls | undefined {
  if (!host || host.includes('/') || host.startsWith('.')) return undefined;
  const folder = path.join(certsDir, host);
  let names: string[];
  try {
    names = fs.readdirSync(folder).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  const read = (n: string) => fs.readFileSync(path.join(folder, n), 'utf8');
  const tls: RegistryTls = { ca: names.filter((n) => n.endsWith('.crt')).map(read), folder };
  const certs = names.filter((n) => n.endsWith('.cert'));
  const keys = names.filter((n) => n.endsWith('.key'));
  for (const c of certs) if (!keys.includes(`${c.slice(0, -5)}.key`)) throw invalidArgument(`missing key ${c.slice(0, -5)}.key for client certificate ${path.join(folder, c)}`);
  for (const k of keys) if (!certs.includes(`${k.slice(0, -4)}.cert`)) throw invalidArgument(`missing client certificate ${k.slice(0, -4)}.cert for key ${path.join(folder, k)}`);
  if (certs.length > 1) throw invalidArgument(`${folder} holds ${certs.length} client certificates; Berth uses one`);
  if (certs.length) {
    tls.cert = read(certs[0]);
    tls.key = read(`${certs[0].slice(0, -5)}.key`);
  }
  return tls;
}
