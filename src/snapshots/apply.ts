import { chmodSync, createWriteStream, lchownSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { invalidArgument, isErrno } from '../base/errors';
import { S_IFBLK, S_IFCHR, S_IFIFO, lsetxattr, mknod } from '../base/linux';
import { SMALL_FILE, Yielder } from '../base/yielder';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/**
 * Unpacks an uncompressed layer tar into an overlay upper folder, turning
 * OCI whiteouts into overlay ones (a 0/0 char device; an opaque xattr).
 * Entries that would land outside `root` — `..`, absolute names, writes or
 * hard links through a symlink — are refused, not clamped: such a layer is
 * broken or hostile.
 */
export interface ApplyOptions {
  /**
   * Layer semantics: `.wh.` entries become overlay whiteouts in an upper
   * folder (default); 'delete' removes what they name, for a layer applied
   * onto a mounted root (squash); off for plain archives (docker cp).
   */
  whiteouts?: boolean | 'delete';
  /** Owner of every entry, instead of the archive's (docker cp without -a). */
  owner?: { uid: number; gid: number };
  /**
   * Make root mirror the archive (a build context sent again): a file
   * whose content is already there is not written again, and what the
   * archive lacks is removed at the end.
   */
  mirror?: boolean;
  /** Called with each small file's path and bytes as they land (the builder digests a context on the way). */
  onSmallFile?: (target: string, body: Buffer) => void;
}

export async function applyLayer(root: string, src: Readable, o: ApplyOptions = {}): Promise<void> {
  const whiteouts = o.whiteouts !== false;
  const deleting = o.whiteouts === 'delete';
  /** What this layer wrote: an opaque marker in 'delete' mode hides only what was there before. */
  const written = new Set<string>();
  /** Mirror mode: what the archive holds, and small bodies read for comparison and still to be written. */
  const seen = new Set<string>([root]);
  const pending = new Map<string, Buffer>();
  const extract = tar.extract();
  const y = new Yielder();
  const dirTimes: [string, Date][] = [];
  const safeDirs = new Set<string>([root]);

  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const rel = cleanName(h.name);
      if (rel === '') {
        // The layer's root itself: only its metadata (a plain archive's root is the destination's).
        if (whiteouts) setMeta(root, h, dirTimes, o.owner);
        entry.resume();
        continue;
      }
      const target = path.join(root, rel);
      ensureParents(root, path.dirname(target), safeDirs);
      const base = path.basename(rel);

      if (whiteouts && base === OPAQUE) {
        const dir = path.dirname(target);
        if (!deleting) lsetxattr(dir, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        else for (const n of await fsp.readdir(dir)) if (!written.has(path.join(dir, n))) await fsp.rm(path.join(dir, n), { recursive: true, force: true });
        entry.resume();
        continue;
      }
      if (whiteouts && base.startsWith(WHITEOUT_PREFIX)) {
        const hidden = path.join(path.dirname(target), base.slice(WHITEOUT_PREFIX.length));
        await fsp.rm(hidden, { recursive: true, force: true });
        if (!deleting) mknod(hidden, S_IFCHR | 0o000, 0, 0);
        entry.resume();
        continue;
      }
      written.add(target);

      if (o.mirror) {
        for (let p = target; !seen.has(p); p = path.dirname(p)) seen.add(p);
        if (await unchanged(target, h, entry, pending, o.onSmallFile)) {
          entry.resume();
          setMeta(target, h, dirTimes, o.owner);
          continue;
        }
      }
      replaceExisting(target, h.type === 'directory');
      switch (h.type) {
        case 'directory':
          mkdirSync(target, { recursive: true });
          safeDirs.add(target);
          break;
        case 'file':
        case 'contiguous-file':
          if (pending.has(target)) {
            writeFileSync(target, pending.get(target)!, { mode: 0o600 });
            pending.delete(target);
          } else if ((h.size ?? 0) <= SMALL_FILE) {
            const body = await readEntry(entry);
            o.onSmallFile?.(target, body);
            writeFileSync(target, body, { mode: 0o600 });
          }
          else await pipeline(entry, createWriteStream(target, { mode: 0o600 }));
          break;
        case 'symlink':
          symlinkSync(h.linkname ?? '', target);
          break;
        case 'link': {
          const linkRel = cleanName(h.linkname ?? '');
          const linkTarget = path.join(root, linkRel);
          ensureParents(root, path.dirname(linkTarget), safeDirs);
          try {
            await fsp.link(linkTarget, target);
          } catch (e) {
            if (isErrno(e, 'ENOENT')) throw invalidArgument(`layer: hard link ${rel} points to missing ${linkRel}`);
            throw e;
          }
          break;
        }
        case 'character-device':
          mknod(target, S_IFCHR | (h.mode ?? 0) & 0o7777, h.devmajor ?? 0, h.devminor ?? 0);
          break;
        case 'block-device':
          mknod(target, S_IFBLK | (h.mode ?? 0) & 0o7777, h.devmajor ?? 0, h.devminor ?? 0);
          break;
        case 'fifo':
          mknod(target, S_IFIFO | (h.mode ?? 0) & 0o7777, 0, 0);
          break;
        default:
          entry.resume();
          continue;
      }
      entry.resume();
      if (h.type !== 'link') setMeta(target, h, dirTimes, o.owner);
      await y.maybe();
    }
  })();
  await Promise.all([pipeline(src, extract), consume]);
  if (o.mirror) removeUnseen(root, seen);
  // Directory times last: creating children changed them.
  for (const [dir, mtime] of dirTimes.reverse()) lutimesSync(dir, mtime, mtime);
}

/** `./a/b/` → `a/b`; refuses absolute names and `..`. */
export function cleanName(name: string): string {
  if (name.startsWith('/')) throw invalidArgument(`layer: absolute path ${JSON.stringify(name)} refused`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`layer: path ${JSON.stringify(name)} escapes the root`);
  return parts.join('/');
}

/** Makes sure every folder from root to dir exists and none is a symlink. */
function ensureParents(root: string, dir: string, safe: Set<string>): void {
  if (safe.has(dir)) return;
  if (dir === path.dirname(dir)) throw new Error(`bug: ${dir} is not under ${root}`);
  ensureParents(root, path.dirname(dir), safe);
  try {
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) throw invalidArgument(`layer: write through symlink ${path.relative(root, dir)} refused`);
    if (!st.isDirectory()) throw invalidArgument(`layer: ${path.relative(root, dir)} is not a directory`);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
    mkdirSync(dir, { mode: 0o755 });
  }
  safe.add(dir);
}

function replaceExisting(target: string, isDir: boolean): void {
  try {
    const st = lstatSync(target);
    if (isDir && st.isDirectory()) return;
    rmSync(target, { recursive: true, force: true });
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

function setMeta(target: string, h: tar.Header, dirTimes: [string, Date][], owner?: { uid: number; gid: number }): void {
  lchownSync(target, owner?.uid ?? h.uid ?? 0, owner?.gid ?? h.gid ?? 0);
  if (h.type !== 'symlink') chmodSync(target, (h.mode ?? 0o644) & 0o7777);
  for (const [key, value] of Object.entries(h.pax ?? {})) {
    if (key.startsWith('SCHILY.xattr.')) {
      const name = key.slice('SCHILY.xattr.'.length);
      try {
        lsetxattr(target, name, Buffer.from(String(value), "binary"));
      } catch (e) {
        if (!isErrno(e, 'ENOTSUP') && !isErrno(e, 'EPERM')) throw e;
      }
    }
  }
  const mtime = h.mtime ?? new Date(0);
  if (h.type === 'directory') dirTimes.push([target, mtime]);
  else lutimesSync(target, mtime, mtime);
}

/**
 * Mirror mode: whether the entry is already at target as it is in the
 * archive (a folder; a link to the same place; a small file with the same
 * bytes). A small file's body read for the comparison waits in `pending`.
 */
async function unchanged(target: string, h: tar.Header, entry: AsyncIterable<unknown>, pending: Map<string, Buffer>, onSmallFile?: (target: string, body: Buffer) => void): Promise<boolean> {
  let st;
  try {
    st = lstatSync(target);
  } catch {
    return false;
  }
  if (h.type === 'directory') return st.isDirectory();
  if (h.type === 'symlink') return st.isSymbolicLink() && readlinkSync(target) === h.linkname;
  if (h.type !== 'file' || !st.isFile() || st.size !== h.size || st.size > SMALL_FILE) return false;
  const body = await readEntry(entry);
  onSmallFile?.(target, body);
  if (body.equals(readFileSync(target))) return true;
  pending.set(target, body);
  return false;
}

/** Mirror mode: removes what the archive did not hold. */
function removeUnseen(dir: string, seen: Set<string>): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (!seen.has(p)) rmSync(p, { recursive: true, force: true });
    else if (lstatSync(p).isDirectory()) removeUnseen(p, seen);
  }
}

/** A small entry's body in one buffer. */
async function readEntry(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of entry) chunks.push(c as Buffer);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}
