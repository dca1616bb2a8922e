import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isErrno } from './errors';

/**
 * Writes a file so that a crash at any instant leaves either the old or the
 * new content: write a temp file, fsync it, rename over, fsync the folder.
 * With `durable: false`, the fsyncs are skipped: still whole after a crash
 * of the process, but a crash of the host may keep the old content (for
 * frequent writes of what may be lost, such as health-check history).
 */
export async function atomicWrite(file: string, data: string | Uint8Array, mode = 0o644, durable = true): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  if (durable) await fsyncDir(path.dirname(file));
}

export async function atomicWriteJson(file: string, value: unknown, durable = true): Promise<void> {
  await atomicWrite(file, JSON.stringify(value, null, 1) + '\n', 0o644, durable);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Reads JSON, or returns undefined when the file does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return false;
    throw e;
  }
}

export async function mkdirp(dir: string, mode = 0o755): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode });
}

/** Size in bytes of everything below a path, without following links. */
export async function diskUsage(p: string): Promise<{ size: number; inodes: number }> {
  let size = 0;
  let inodes = 0;
  const walk = async (q: string): Promise<void> => {
    let st: fs.Stats;
    try {
      st = await fsp.lstat(q);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    inodes++;
    if (st.isDirectory()) {
      for (const name of await fsp.readdir(q)) await walk(path.join(q, name));
    } else {
      size += st.size;
    }
  };
  await walk(p);
  return { size, inodes };
}

/**
 * Reads of what may be absent: a missing path (or a parent that is a file)
 * is the answer "none"; any other failure (permissions, I/O) is an error the
 * caller hears of, never taken for absence.
 */
const absent = (e: unknown) => isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR');

export async function readdirIfExists(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch((e) => (absent(e) ? [] : Promise.reject(e)));
}

export async function readFileIfExists(file: string): Promise<string | undefined> {
  return fsp.readFile(file, 'utf8').catch((e) => (absent(e) ? undefined : Promise.reject(e)));
}

export async function statIfExists(p: string): Promise<import('node:fs').Stats | undefined> {
  return fsp.stat(p).catch((e) => (absent(e) ? undefined : Promise.reject(e)));
}

export async function lstatIfExists(p: string): Promise<import('node:fs').Stats | undefined> {
  return fsp.lstat(p).catch((e) => (absent(e) ? undefined : Promise.reject(e)));
}
