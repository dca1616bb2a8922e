import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidArgument, isErrno } from '../base/errors';
import { resolveIn } from '../base/in-root';
import { SMALL_FILE, Yielder } from '../base/yielder';
import { decompressed } from '../images/importer';
import { applyLayer } from '../snapshots/apply';
import { contextPath } from './context';
import { lstatIfExists } from '../base/files';

/** A source of COPY or ADD: where it is on the host, and the name it lands under. */
export interface Source {
  host: string;
  /** The name a file lands under in a folder destination (a followed link keeps its own name). */
  name: string;
  stat: fs.Stats;
  /** A local archive ADD unpacks, and how it is compressed. */
  unpack?: ArchiveKind;
}

export interface Owner {
  uid: number;
  gid: number;
}

const GLOB = /[*?[]/;

/** Go's filepath.Match as a regular expression: `*` and `?` never cross `/`. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw invalidArgument(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(ch);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (s: string) => s.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');

/** Every path under root, relative, folders before what they hold. */
async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory()) out.push(...(await walk(root, r)));
  }
  return out;
}

/**
 * The sources named by COPY/ADD arguments, under root (the context, or a
 * stage's or image's root filesystem). Globs match whole paths as docker's
 * filepath.Match; a named link is followed inside root.
 */
export async function findSources(root: string, specs: string[], inContext: boolean): Promise<Source[]> {
  const out: Source[] = [];
  let all: string[] | undefined;
  for (const spec of specs) {
    const rel = inContext ? contextPath(spec) : path.posix.normalize('/' + spec).slice(1) || '.';
    if (GLOB.test(rel)) {
      const re = globRegExp(rel);
      all ??= await walk(root);
      for (const r of all.filter((x) => re.test(x))) {
        const host = path.join(root, r);
        out.push({ host, name: path.posix.basename(r), stat: await fsp.lstat(host) });
      }
      continue;
    }
    const host = await resolveIn(root, rel, true);
    const stat = await fsp.stat(host).catch((e) => {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) {
        throw invalidArgument(inContext ? `file not found in build context or excluded by .dockerignore: stat ${spec}: file does not exist` : `stat ${spec}: file does not exist`);
      }
      throw e;
    });
    out.push({ host, name: path.posix.basename(rel) || '/', stat });
  }
  if (!out.length) throw invalidArgument('no source files were specified');
  return out;
}

/**
 * What the cache keys a COPY on: each source's relative paths, types,
 * modes, sizes, link targets and content digests (not times, as docker's
 * tarsum). `hashes` remembers file digests for the rest of the build.
 */
export async function sourcesDigest(sources: Source[], hashes: Map<string, string>): Promise<string> {
  const h = createHash('sha256');
  const y = new Yielder();
  const entry = async (host: string, rel: string, st: fs.Stats) => {
    await y.maybe();
    h.update(`${rel}\0${st.mode.toString(8)}\0`);
    if (st.isSymbolicLink()) h.update(`link\0${fs.readlinkSync(host)}\0`);
    else if (st.isFile()) h.update(`file\0${st.size}\0${await fileDigest(host, st.size, hashes)}\0`);
    else if (st.isDirectory()) {
      h.update('dir\0');
      for (const name of fs.readdirSync(host).sort()) await entry(path.join(host, name), `${rel}/${name}`, fs.lstatSync(path.join(host, name)));
    }
  };
  for (const s of sources) await entry(s.host, s.name, s.stat);
  return h.digest('hex');
}

async function fileDigest(file: string, size: number, hashes: Map<string, string>): Promise<string> {
  const known = hashes.get(file);
  if (known) return known;
  const h = createHash('sha256');
  if (size <= SMALL_FILE) h.update(fs.readFileSync(file));
  else await pipeline(fs.createReadStream(file), h);
  const hex = h.digest('hex');
  hashes.set(file, hex);
  return hex;
}

export interface CopyOptions {
  /** Owner of what is copied and of the folders made for it (default root). */
  owner?: Owner;
  /** Mode of what is copied (--chmod). */
  chmod?: number;
}

/**
 * Copies sources to dest (a path in the image) under rootfs, as docker:
 * a folder's contents (not the folder) go into dest; a file goes to dest,
 * or into it when dest ends in `/` or is a folder; an archive ADD names
 * is unpacked into dest. Folders missing on the way are made.
 */
export async function copySources(rootfs: string, sources: Source[], dest: string, o: CopyOptions): Promise<void> {
  const owner = o.owner ?? { uid: 0, gid: 0 };
  const intoDir = dest.endsWith('/') || dest.endsWith('/.');
  if (sources.length > 1 && !intoDir) throw invalidArgument('When using COPY with more than one source file, the destination must be a directory and end with a /');
  for (const s of sources) {
    const target = await resolveIn(rootfs, dest, true);
    if (s.stat.isDirectory()) {
      await makeDirs(rootfs, target, owner);
      await copyTree(s.host, target, owner, o.chmod, new Yielder());
    } else if (s.unpack) {
      await makeDirs(rootfs, target, owner);
      await applyLayer(target, archiveStream(s.host, s.unpack), { whiteouts: false, owner: o.owner });
    } else {
      const isDir = intoDir || (await fsp.stat(target).then((st) => st.isDirectory(), () => false));
      const file = isDir ? path.join(target, s.name) : target;
      await makeDirs(rootfs, path.dirname(file), owner);
      await copyEntry(s.host, file, s.stat, owner, o.chmod);
    }
  }
}

/** mkdir -p inside rootfs, the folders made owned by owner (as docker's --chown). */
export async function makeDirs(rootfs: string, dir: string, owner: Owner): Promise<void> {
  const rel = path.relative(rootfs, dir);
  if (rel.startsWith('..')) throw invalidArgument(`destination escapes the root: ${dir}`);
  let cur = rootfs;
  for (const part of rel.split(path.sep).filter((p) => p && p !== '.')) {
    cur = path.join(cur, part);
    const st = await lstatIfExists(cur);
    if (st?.isDirectory()) continue;
    if (st) throw invalidArgument(`cannot copy to ${path.relative(rootfs, dir)}: ${path.relative(rootfs, cur)} is not a directory`);
    await fsp.mkdir(cur, 0o755);
    await fsp.lchown(cur, owner.uid, owner.gid);
  }
}

async function copyTree(src: string, dst: string, owner: Owner, chmod: number | undefined, y: Yielder): Promise<void> {
  for (const name of fs.readdirSync(src)) {
    const from = path.join(src, name);
    await copyEntry(from, path.join(dst, name), fs.lstatSync(from), owner, chmod, y);
  }
}

async function copyEntry(src: string, dst: string, st: fs.Stats, owner: Owner, chmod: number | undefined, y = new Yielder()): Promise<void> {
  await y.maybe();
  const existing = lstatOrUndefined(dst);
  if (existing && !(existing.isDirectory() && st.isDirectory())) fs.rmSync(dst, { recursive: true, force: true });
  if (st.isDirectory()) {
    if (!existing?.isDirectory()) fs.mkdirSync(dst);
    await copyTree(src, dst, owner, chmod, y);
  } else if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dst);
  } else if (st.isFile()) {
    if (st.size <= SMALL_FILE) fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE);
    else await fsp.copyFile(src, dst, fs.constants.COPYFILE_FICLONE);
  } else return; // sockets, fifos and devices are not copied
  fs.lchownSync(dst, owner.uid, owner.gid);
  if (st.isSymbolicLink()) return;
  fs.chmodSync(dst, chmod ?? st.mode & 0o7777);
  fs.utimesSync(dst, st.atime, st.mtime);
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
    throw e;
  }
}

export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz';

/** Whether ADD unpacks a file, as docker: a tar, plain or compressed with gzip, bzip2 or xz. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 3 && buf.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
    if (bytesRead >= 6 && buf.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    return bytesRead === 512 && buf.toString('latin1', 257, 262) === 'ustar' ? 'tar' : undefined;
  } finally {
    await fh.close();
  }
}

/** The tar inside an archive; bzip2 and xz through Debian's own tools. */
function archiveStream(file: string, kind: ArchiveKind): Readable {
  if (kind === 'tar' || kind === 'gzip') return decompressed(fs.createReadStream(file));
  const tool = kind === 'bzip2' ? 'bzip2' : 'xz';
  const p = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  p.on('error', (e) => p.stdout.destroy(e));
  p.on('close', (code) => code !== 0 && p.stdout.destroy(invalidArgument(`${path.basename(file)}: ${tool} failed: ${err.trim() || `exit ${code}`}`)));
  return p.stdout;
}
