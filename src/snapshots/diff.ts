import type { Stats } from 'node:fs';
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { isErrno } from '../base/errors';
import { lgetxattr, llistxattr } from '../base/linux';
import { SMALL_FILE, Yielder } from '../base/yielder';
import { readdirIfExists } from '../base/files';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** The body of a marker entry: a file entry must be given its body, or the pack waits for it. */
const EMPTY = Buffer.alloc(0);

/** One change of a container's filesystem, as `docker diff` prints it. */
export interface Change {
  kind: 'A' | 'C' | 'D';
  /** Absolute, as seen in the container. */
  path: string;
}

/** An entry of an overlay upper folder, walked in name order (parents before children). */
interface UpperEntry {
  rel: string;
  st: Stats;
  /** A 0/0 character device: the lower entry of this name is deleted. */
  whiteout: boolean;
  /** A folder whose lower contents are hidden. */
  opaque: boolean;
}

async function* walk(root: string, rel = '', y = new Yielder()): AsyncGenerator<UpperEntry> {
  const names = readdirSync(path.join(root, rel)).sort();
  for (const name of names) {
    await y.maybe();
    const r = rel ? `${rel}/${name}` : name;
    const file = path.join(root, r);
    const st = lstatSync(file);
    const whiteout = st.isCharacterDevice() && st.rdev === 0;
    const opaque = st.isDirectory() && lgetxattr(file, OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
    yield { rel: r, st, whiteout, opaque };
    if (st.isDirectory()) yield* walk(root, r, y);
  }
}

async function existsIn(lowers: string[], rel: string): Promise<boolean> {
  for (const l of lowers) {
    try {
      await fsp.lstat(path.join(l, rel));
      return true;
    } catch (e) {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'ENOTDIR')) throw e;
    }
  }
  return false;
}

/**
 * The changes an overlay upper folder makes to its lower layers (nearest
 * first): A for what no lower has, C for what it replaces (folders that hold
 * changes included, as docker reports them), D for whiteouts and for what an
 * opaque folder hides. Placeholders at `skip` paths (relative) are left out.
 */
export async function changes(upper: string, lowers: string[], skip: Set<string> = new Set()): Promise<Change[]> {
  const out: Change[] = [];
  const skipped: string[] = [];
  for await (const e of walk(upper)) {
    const abs = `/${e.rel}`;
    if (isPlaceholder(e, skip, upper)) {
      skipped.push(abs);
      continue;
    }
    if (e.whiteout) {
      out.push({ kind: 'D', path: abs });
      continue;
    }
    out.push({ kind: (await existsIn(lowers, e.rel)) ? 'C' : 'A', path: abs });
    if (e.opaque) {
      const hidden = new Set<string>();
      for (const l of lowers) for (const n of await readdirIfExists(path.join(l, e.rel))) hidden.add(n);
      const kept = new Set(await fsp.readdir(path.join(upper, e.rel)));
      for (const n of [...hidden].sort()) if (!kept.has(n)) out.push({ kind: 'D', path: `${abs}/${n}` });
    }
  }
  // A folder copied up only to hold placeholders (/etc for /etc/hosts) changed nothing.
  const under = (dir: string, p: string) => p.startsWith(`${dir}/`);
  const kept = out.filter((c) => c.kind !== 'C' || !skipped.some((x) => under(c.path, x)) || out.some((o) => under(c.path, o.path)));
  return kept.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** An empty file or folder at a path in skip: a mount point the runtime made, not a change. */
function isPlaceholder(e: UpperEntry, skip: Set<string>, upper: string): boolean {
  if (!skip.has(e.rel) || e.whiteout) return false;
  if (e.st.isFile()) return e.st.size === 0;
  return e.st.isDirectory() && readdirSync(path.join(upper, e.rel)).length === 0;
}

function xattrsOf(file: string): Record<string, string> | undefined {
  const pax: Record<string, string> = {};
  for (const name of llistxattr(file)) {
    if (name.startsWith('trusted.overlay.')) continue;
    const v = lgetxattr(file, name);
    if (v) pax[`SCHILY.xattr.${name}`] = v.toString('binary');
  }
  return Object.keys(pax).length ? pax : undefined;
}

/**
 * An overlay upper folder as a layer tar (uncompressed, OCI whiteouts), the
 * inverse of applyLayer: entries in name order with the files' own owners,
 * modes, times and xattrs, so the same folder always makes the same digest.
 * Placeholders at `skip` paths are left out.
 */
export function packLayer(upper: string, skip: Set<string> = new Set()): Readable {
  return pack(upper, walk(upper), (e) => isPlaceholder(e, skip, upper));
}

/** One file or folder (with all it holds) of `parent`, as a tar whose entries start with its name (docker cp). */
export function packPath(parent: string, name: string): Readable {
  async function* entries(): AsyncGenerator<UpperEntry> {
    const st = await fsp.lstat(path.join(parent, name));
    yield { rel: name, st, whiteout: false, opaque: false };
    if (st.isDirectory()) yield* walk(parent, name);
  }
  return pack(parent, entries(), () => false);
}

function pack(upper: string, entries: AsyncIterable<UpperEntry>, skipped: (e: UpperEntry) => boolean): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  void (async () => {
    const links = new Map<string, string>();
    for await (const e of entries) {
      if (skipped(e)) continue;
      const { st } = e;
      const base = { uid: st.uid, gid: st.gid, mtime: st.mtime, mode: st.mode & 0o7777 };
      if (e.whiteout) {
        const dir = path.posix.dirname(e.rel);
        const name = `${dir === '.' ? '' : `${dir}/`}${WHITEOUT_PREFIX}${path.posix.basename(e.rel)}`;
        pack.entry({ name, mode: 0o644, mtime: st.mtime, uid: 0, gid: 0 }, EMPTY);
        continue;
      }
      const file = path.join(upper, e.rel);
      const pax = xattrsOf(file);
      if (st.isDirectory()) {
        pack.entry({ ...base, name: `${e.rel}/`, type: 'directory', pax });
        if (e.opaque) pack.entry({ name: `${e.rel}/${OPAQUE}`, mode: 0o644, mtime: st.mtime, uid: 0, gid: 0 }, EMPTY);
      } else if (st.isSymbolicLink()) {
        pack.entry({ ...base, name: e.rel, type: 'symlink', linkname: readlinkSync(file), pax });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first) {
          pack.entry({ ...base, name: e.rel, type: 'link', linkname: first });
          continue;
        }
        if (st.nlink > 1) links.set(key, e.rel);
        const header = { ...base, name: e.rel, size: st.size, pax };
        if (st.size <= SMALL_FILE) pack.entry(header, st.size ? readFileSync(file) : EMPTY);
        else await pipeline(createReadStream(file), pack.entry(header));
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const type = st.isCharacterDevice() ? 'character-device' : 'block-device';
        pack.entry({ ...base, name: e.rel, type, devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00), pax });
      } else if (st.isFIFO()) {
        pack.entry({ ...base, name: e.rel, type: 'fifo', pax });
      }
      // Sockets are not carried, as in docker's layers.
    }
    pack.finalize();
  })().catch((err) => pack.destroy(err));
  pack.once('error', (err) => out.destroy(err));
  return pack.pipe(out);
}
