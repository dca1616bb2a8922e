import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BerthError, invalidArgument } from '../base/errors';
import type { ApiClient } from '../client/client';
import { tar } from './gnu-tar';

/** `container:path` → its parts; a local path (with no colon before any slash) → undefined. */
export function splitContainerPath(arg: string): { container: string; path: string } | undefined {
  const colon = arg.indexOf(':');
  if (colon <= 0) return undefined;
  const slash = arg.indexOf('/');
  if (slash >= 0 && slash < colon) return undefined;
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' };
}

interface PathStat {
  name: string;
  mode: number;
}

const isDirMode = (mode: number) => mode >= 2 ** 31;
/** A source ending in `/.` means the folder's contents, as with cp -a. */
const contentsOf = (p: string) => /(^|\/)\.$/.test(p);
/** GNU tar's --transform of a leading name (sed syntax, its specials escaped). */
const rename = (from: string, to: string) => `s|^${from.replace(/[\\|.*[\]^$]/g, '\\$&')}|${to.replace(/[\\|&]/g, '\\$&')}|`;

async function statInContainer(api: ApiClient, container: string, p: string): Promise<PathStat | undefined> {
  try {
    const res = await api.request('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: p } });
    res.resume();
    return JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat']), 'base64').toString()) as PathStat;
  } catch (e) {
    if (e instanceof BerthError && e.code === 'not_found') return undefined;
    throw e;
  }
}

/** docker cp container:src dest: the archive of src, unpacked where docker would put it. */
async function copyOut(api: ApiClient, src: { container: string; path: string }, dest: string): Promise<void> {
  const res = await api.request('GET', `/containers/${encodeURIComponent(src.container)}/archive`, { query: { path: src.path } });
  if (dest === '-') return pipeline(res, process.stdout);
  const stat = JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat']), 'base64').toString()) as PathStat;
  const destIsDir = fs.statSync(dest, { throwIfNoEntry: false })?.isDirectory() ?? false;
  let dir = dest;
  const args = ['-x', '-f', '-', '--no-same-owner'];
  if (contentsOf(src.path) && isDirMode(stat.mode)) {
    fs.mkdirSync(dest, { recursive: true });
    args.push('--strip-components=1');
  } else if (!destIsDir) {
    if (dest.endsWith('/')) throw invalidArgument(`destination directory ${dest} does not exist`);
    dir = path.dirname(dest);
    args.push(`--transform=${rename(stat.name, path.basename(dest))}`);
  }
  await tar([...args, '-C', dir], res).done;
}

/** docker cp src container:dest: src packed and unpacked where docker would put it. */
async function copyIn(api: ApiClient, src: string, dest: { container: string; path: string }, keepOwners: boolean): Promise<void> {
  const st = fs.lstatSync(src, { throwIfNoEntry: false });
  if (!st) throw invalidArgument(`could not find the file ${src}`);
  const target = await statInContainer(api, dest.container, dest.path);
  const base = path.basename(path.resolve(src));
  let into = dest.path;
  const args = ['-c', '-f', '-', '-C'];
  if (contentsOf(src) && st.isDirectory()) {
    if (!target) {
      // The folder's contents as a new folder of dest's name.
      into = path.posix.dirname(dest.path);
      args.push(src, `--transform=${rename('.', path.posix.basename(dest.path))}`, '.');
    } else args.push(src, '.');
  } else if (target && isDirMode(target.mode)) {
    args.push(path.dirname(path.resolve(src)), base);
  } else {
    if (dest.path.endsWith('/')) throw invalidArgument(`destination directory ${dest.path} does not exist in the container`);
    into = path.posix.dirname(dest.path);
    args.push(path.dirname(path.resolve(src)), `--transform=${rename(base, path.posix.basename(dest.path))}`, base);
  }
  const packed = tar(args);
  await Promise.all([
    api.request('PUT', `/containers/${encodeURIComponent(dest.container)}/archive`, { query: { path: into, copyUIDGID: keepOwners ? '1' : undefined }, stream: packed.stdout! }).then((r) => r.resume()),
    packed.done,
  ]);
}

export async function cp(api: ApiClient, srcArg: string, destArg: string, keepOwners: boolean): Promise<void> {
  const src = splitContainerPath(srcArg);
  const dest = splitContainerPath(destArg);
  if (src && dest) throw invalidArgument('copying between containers is not supported');
  if (!src && !dest) throw invalidArgument('must specify at least one container source');
  if (src) return copyOut(api, src, destArg);
  if (srcArg === '-') {
    // A tar on stdin, unpacked into the folder dest.
    const r = await api.request('PUT', `/containers/${encodeURIComponent(dest!.container)}/archive`, { query: { path: dest!.path }, stream: process.stdin });
    r.resume();
    return;
  }
  return copyIn(api, srcArg, dest!, keepOwners);
}
