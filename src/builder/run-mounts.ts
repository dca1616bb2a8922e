import * as path from 'node:path';
import { invalidArgument } from '../base/errors';
import { parseSize } from '../base/sizes';

/** One `RUN --mount=...`, as BuildKit's Dockerfile syntax (1.4+) defines it. */
export type RunMount =
  /** Files of the context, a stage or an image; read-only unless `rw` (writes then go nowhere). */
  | { type: 'bind'; target: string; source: string; from?: string; readonly: boolean }
  /** A folder kept between builds, for compilers' and package managers' caches. */
  | { type: 'cache'; target: string; id: string; sharing: 'shared' | 'private' | 'locked'; readonly: boolean; mode: number; uid: number; gid: number }
  | { type: 'tmpfs'; target: string; size?: number }
  /** A secret the client sent (`build --secret id=...`), as a file or an environment variable; never in the image. */
  | { type: 'secret'; id: string; target?: string; env?: string; required: boolean; mode: number; uid: number; gid: number };

const TYPES = ['bind', 'cache', 'tmpfs', 'secret'];

const truth = (k: string, v: string | undefined): boolean => {
  if (v === undefined || v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalidArgument(`--mount ${k}=${v}: true or false is expected`);
};

const octal = (k: string, v: string): number => {
  if (!/^0?[0-7]{3,4}$/.test(v)) throw invalidArgument(`--mount ${k}=${v}: an octal mode is expected`);
  return parseInt(v, 8);
};

const id = (k: string, v: string): number => {
  if (!/^\d+$/.test(v)) throw invalidArgument(`--mount ${k}=${v}: a numeric id is expected`);
  return Number(v);
};

/** An absolute path in the step's container; relative ones are taken from the WORKDIR, as BuildKit. */
const inContainer = (p: string, workdir: string) => path.posix.resolve(workdir || '/', p);

/**
 * Parses one --mount value (variables already expanded): comma-separated
 * `key=value` options, as BuildKit reads them (csv; a bare key is true).
 */
export function parseRunMount(spec: string, workdir = '/'): RunMount {
  const o = new Map<string, string | undefined>();
  for (const field of spec.split(',').map((f) => f.trim()).filter(Boolean)) {
    const eq = field.indexOf('=');
    const k = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (o.has(k)) throw invalidArgument(`--mount: ${k} is given twice`);
    o.set(k, eq < 0 ? undefined : field.slice(eq + 1));
  }
  const take = (...names: string[]) => {
    for (const n of names) if (o.has(n)) return o.get(n) ?? '';
    return undefined;
  };
  const type = take('type') ?? 'bind';
  if (type === 'ssh') throw invalidArgument('--mount=type=ssh is not supported: Berth has no SSH agent forwarding; use a secret mount');
  if (!TYPES.includes(type)) throw invalidArgument(`--mount: unknown type ${type} (bind, cache, tmpfs or secret)`);
  const target = take('target', 'dst', 'destination');
  const ro = o.has('ro') || o.has('readonly') ? truth('readonly', take('ro', 'readonly')) : undefined;
  const rw = o.has('rw') || o.has('readwrite') ? truth('readwrite', take('rw', 'readwrite')) : undefined;
  const known = new Set(['type', 'target', 'dst', 'destination', 'ro', 'readonly', 'rw', 'readwrite']);
  const allow = (...names: string[]) => {
    for (const n of names) known.add(n);
    for (const k of o.keys()) if (!known.has(k)) throw invalidArgument(`--mount: unexpected key '${k}' for type ${type}`);
  };
  if (type === 'secret') {
    allow('id', 'required', 'mode', 'uid', 'gid', 'env');
    const env = take('env');
    const secretId = take('id') || (target ? path.posix.basename(target) : '');
    if (!secretId) throw invalidArgument('--mount=type=secret needs an id (or a target to take it from)');
    return {
      type,
      id: secretId,
      target: target ? inContainer(target, workdir) : env ? undefined : `/run/secrets/${secretId}`,
      env: env || undefined,
      required: o.has('required') ? truth('required', take('required')) : false,
      mode: o.has('mode') ? octal('mode', take('mode')!) : 0o400,
      uid: o.has('uid') ? id('uid', take('uid')!) : 0,
      gid: o.has('gid') ? id('gid', take('gid')!) : 0,
    };
  }
  if (!target) throw invalidArgument(`--mount=type=${type} needs a target`);
  const dst = inContainer(target, workdir);
  if (type === 'tmpfs') {
    allow('size');
    const size = take('size');
    return { type, target: dst, size: size ? parseSize(size) : undefined };
  }
  if (type === 'cache') {
    allow('id', 'sharing', 'mode', 'uid', 'gid', 'from', 'source', 'src');
    if (o.has('from') || o.has('source') || o.has('src')) throw invalidArgument('--mount=type=cache: from and source (a cache seeded from a stage) are not supported');
    const sharing = take('sharing') ?? 'shared';
    if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') throw invalidArgument(`--mount sharing=${sharing}: shared, private or locked is expected`);
    return {
      type,
      target: dst,
      id: take('id') || dst,
      sharing,
      readonly: ro ?? false,
      mode: o.has('mode') ? octal('mode', take('mode')!) : 0o755,
      uid: o.has('uid') ? id('uid', take('uid')!) : 0,
      gid: o.has('gid') ? id('gid', take('gid')!) : 0,
    };
  }
  allow('source', 'src', 'from');
  return { type: 'bind', target: dst, source: take('source', 'src') || '/', from: take('from') || undefined, readonly: ro ?? !rw };
}
