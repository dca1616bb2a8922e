import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { invalidArgument, isErrno } from './errors';

const MAX_SYMLINKS = 40;

/**
 * Where `p` (a path in the container) is on the host under `root`, its
 * symlinks followed as the container would see them (never out of root).
 * The last component is followed only with followLast: a link is copied as a link.
 */
export async function resolveIn(root: string, p: string, followLast = false): Promise<string> {
  const parts = p.split('/').filter((x) => x && x !== '.');
  const last = followLast ? undefined : parts.pop();
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    const st = await fsp.lstat(host).catch((e) => (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') ? undefined : Promise.reject(e)));
    if (st?.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) throw invalidArgument(`too many levels of symbolic links in ${p}`);
      const target = await fsp.readlink(host);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    done.push(part);
  }
  if (last === '..') done.pop();
  const rel = path.join(...done, last && last !== '..' ? last : '');
  // The root itself as a folder: a running container's root is the /proc/<pid>/root link.
  return rel === '.' ? `${root}/.` : path.join(root, rel);
}
