import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { invalidArgument, isErrno, notFound } from '../base/errors';
import { ignoreMatcher, ignorePatterns } from '../base/dockerignore';
import { mkdirp } from '../base/files';
import { resolveIn } from '../base/in-root';
import { decompressed } from '../images/importer';
import { applyLayer } from '../snapshots/apply';
import { completeTarEnd } from './tar-end';

export interface BuildContext {
  /** The context's files on disk, .dockerignore applied. */
  dir: string;
  dockerfile: { name: string; text: string };
  /** sha256 of the small files by path, taken as they arrived (the cache's source digests start from them). */
  hashes: Map<string, string>;
}

/**
 * Unpacks a build context (a tar, plain or gzip, as POST /build sends it)
 * into dir as it streams (dir then mirrors it, whatever it held before), reads the Dockerfile, then removes what
 * .dockerignore excludes (the Dockerfile and .dockerignore too, when
 * listed, as docker). Files are owned by root, modes and times kept.
 */
export async function receiveContext(src: Readable, dir: string, dockerfile = 'Dockerfile'): Promise<BuildContext> {
  await mkdirp(dir, 0o700);
  // The folder may hold this context as it was sent last time: only what changed is written.
  const hashes = new Map<string, string>();
  const onSmallFile = (target: string, body: Buffer) => hashes.set(target, createHash('sha256').update(body).digest('hex'));
  // pipeline, not pipe: a client that breaks off mid-context fails the unpacking instead of stalling it.
  const tarStream = pipeline(decompressed(src), completeTarEnd(), () => undefined);
  await applyLayer(dir, tarStream, { whiteouts: false, owner: { uid: 0, gid: 0 }, mirror: true, onSmallFile });
  const text = await readDockerfile(dir, dockerfile);
  // A Dockerfile that came from the client's stdin is not part of the context (the docker CLI's naming).
  if (/^\.dockerfile\.[0-9a-f]+$/.test(dockerfile)) await fsp.rm(path.join(dir, dockerfile), { force: true });
  const ignoreFile = await fsp.readFile(path.join(dir, '.dockerignore'), 'utf8').catch((e) => (isErrno(e, 'ENOENT') ? undefined : Promise.reject(e)));
  if (ignoreFile !== undefined) await removeIgnored(dir, ignoreMatcher(ignorePatterns(ignoreFile)));
  return { dir, dockerfile: { name: dockerfile, text }, hashes };
}

async function readDockerfile(dir: string, name: string): Promise<string> {
  const candidates = name === 'Dockerfile' ? ['Dockerfile', 'dockerfile'] : [name];
  for (const c of candidates) {
    const host = await resolveIn(dir, c, true);
    const text = await fsp.readFile(host, 'utf8').catch((e) => (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') ? undefined : Promise.reject(e)));
    if (text !== undefined) return text;
  }
  throw notFound(`Cannot locate specified Dockerfile: ${name}`);
}

/** Removes the ignored entries under dir; a folder stays while something in it is kept (a `!` exception). */
async function removeIgnored(dir: string, ignored: (rel: string) => boolean, rel = ''): Promise<boolean> {
  let kept = false;
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      const inner = await removeIgnored(dir, ignored, r);
      if (inner || !ignored(r)) kept = true;
      else await fsp.rm(path.join(dir, r), { recursive: true, force: true });
    } else if (ignored(r)) await fsp.rm(path.join(dir, r), { force: true });
    else kept = true;
  }
  return kept;
}

/** A context path as docker checks it: relative, never above the context. */
export function contextPath(p: string): string {
  const clean = path.posix.normalize(p.replace(/^\/+/, ''));
  if (clean === '..' || clean.startsWith('../')) throw invalidArgument(`forbidden path outside the build context: ${p}`);
  return clean;
}
