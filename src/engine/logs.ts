import { watch, type FSWatcher } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { invalidArgument, isErrno } from '../base/errors';

/** One message of a container's output as conmon logged it (k8s-file format). */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, as conmon wrote it. */
  time: string;
  data: Buffer;
  /** A full line (a newline followed); false for a partial chunk. */
  full: boolean;
}

/** Parses one k8s-file line: `<time> <stream> <F|P> <content>` (without its newline). */
export function parseLogLine(line: Buffer): LogEntry | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  const s3 = s2 < 0 ? -1 : line.indexOf(0x20, s2 + 1);
  if (s3 < 0 && s2 < 0) return undefined;
  const time = line.subarray(0, s1).toString();
  const stream = line.subarray(s1 + 1, s2).toString();
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.subarray(s2 + 1, s3 < 0 ? line.length : s3).toString();
  const data = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  return { stream, time, data: Buffer.from(data), full: tag !== 'P' };
}

/** Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits. */
export function timeNs(t: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return 0n;
  const secs = BigInt(Math.floor(Date.parse(m[1] + m[3]) / 1000));
  return secs * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** docker's --since/--until values: unix seconds (with fraction), RFC 3339, or a duration like 10m ago. */
export function parseTimeArg(s: string | undefined, now = Date.now()): bigint | undefined {
  if (s === undefined || s === '' || s === '0') return undefined;
  if (/^\d+(\.\d{1,9})?$/.test(s)) {
    const [sec, frac = ''] = s.split('.');
    return BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  }
  const d = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(s);
  if (d) {
    const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
    return BigInt(Math.round(now - Number(d[1]) * mult[d[2]])) * 1_000_000n;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalidArgument(`invalid time value: ${s}`);
  return /\.\d+/.test(s) ? timeNs(s.includes('Z') || /[+-]\d\d:\d\d$/.test(s) ? s : s + 'Z') : BigInt(t) * 1_000_000n;
}

/** The files of one log, oldest first: path.N ... path.1, path. */
export async function logFiles(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const rotated = names
    .map((n) => (n.startsWith(base + '.') ? Number(n.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${file}.${n}`);
  return names.includes(base) ? [...rotated, file] : rotated;
}

/** Splits a byte stream into lines; keeps the unterminated rest. */
class LineSplitter {
  private rest: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      out.push(buf.subarray(start, nl));
      start = nl + 1;
    }
    this.rest = Buffer.from(buf.subarray(start));
    return out;
  }
}

export interface ReadOptions {
  since?: bigint;
  until?: bigint;
  /** Only the last N entries of what exists now. */
  tail?: number;
  stdout?: boolean;
  stderr?: boolean;
}

function wanted(e: LogEntry, o: ReadOptions): boolean {
  if (e.stream === 'stdout' && o.stdout === false) return false;
  if (e.stream === 'stderr' && o.stderr === false) return false;
  if (o.since !== undefined || o.until !== undefined) {
    const t = timeNs(e.time);
    if (o.since !== undefined && t < o.since) return false;
    if (o.until !== undefined && t > o.until) return false;
  }
  return true;
}

const CHUNK = 64 * 1024;

/** Reads whole files from a byte offset; returns entries and where reading stopped. */
async function* readFrom(file: string, pos: number): AsyncGenerator<LogEntry> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  try {
    const split = new LineSplitter();
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      for (const line of split.push(buf.subarray(0, bytesRead))) {
        const e = parseLogLine(line);
        if (e) yield e;
      }
    }
  } finally {
    await fh.close();
  }
}

/** What exists now, filtered; with tail, only the last entries (memory bounded by tail). */
export async function* readLogs(file: string, o: ReadOptions = {}): AsyncGenerator<LogEntry> {
  const files = await logFiles(file);
  if (o.tail !== undefined && o.tail >= 0) {
    const ring: LogEntry[] = [];
    if (o.tail === 0) return;
    for (const f of files)
      for await (const e of readFrom(f, 0)) {
        if (!wanted(e, o)) continue;
        ring.push(e);
        if (ring.length > o.tail) ring.shift();
      }
    yield* ring;
    return;
  }
  for (const f of files) for await (const e of readFrom(f, 0)) if (wanted(e, o)) yield e;
}

/** Current size of the live log file (0 when absent): where a follower that wants only new output starts. */
export async function logEnd(file: string): Promise<{ ino: number; size: number } | undefined> {
  try {
    const st = await fsp.stat(file);
    return { ino: st.ino, size: st.size };
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/**
 * Follows the live log file from a position, across rotation (a new inode
 * at the path) until `done()` says the writer has finished and everything
 * written has been read, or the signal aborts.
 */
export async function* followLog(
  file: string,
  from: { ino: number; size: number } | undefined,
  done: () => boolean,
  o: ReadOptions,
  signal?: AbortSignal,
): AsyncGenerator<LogEntry> {
  let ino = from?.ino;
  let pos = from?.size ?? 0;
  let fh: fsp.FileHandle | undefined;
  let split = new LineSplitter();
  const buf = Buffer.allocUnsafe(CHUNK);
  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;
  try {
    watcher = watch(path.dirname(file), () => wake?.());
    watcher.on('error', () => {});
  } catch {
    watcher = undefined;
  }
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      if (signal?.aborted) return;
      if (!fh) {
        try {
          fh = await fsp.open(file, 'r');
          const st = await fh.stat();
          if (ino !== undefined && st.ino !== ino) pos = 0;
          ino = st.ino;
          split = new LineSplitter();
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
      }
      let got = 0;
      if (fh) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        got = bytesRead;
        if (bytesRead > 0) {
          pos += bytesRead;
          for (const line of split.push(buf.subarray(0, bytesRead))) {
            const e = parseLogLine(line);
            if (e && wanted(e, o)) yield e;
          }
          continue;
        }
        // At the end of this file: has it been rotated away?
        const cur = await logEnd(file);
        if (cur && cur.ino !== ino) {
          await fh.close();
          fh = undefined;
          continue;
        }
      }
      if (got === 0 && done()) {
        // One last look: the writer may have flushed between our read and done().
        if (fh) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
          if (bytesRead > 0) {
            pos += bytesRead;
            for (const line of split.push(buf.subarray(0, bytesRead))) {
              const e = parseLogLine(line);
              if (e && wanted(e, o)) yield e;
            }
            continue;
          }
        }
        return;
      }
      await new Promise<void>((res) => {
        const t = setTimeout(res, 250);
        wake = () => {
          clearTimeout(t);
          res();
        };
      });
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    watcher?.close();
    await fh?.close();
  }
}

/** docker's size strings: 10m, 1g, 512k, 100 (bytes). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.round(Number(m[1]) * mult[m[2].toLowerCase()]);
}

export interface LogLimits {
  maxSize: number;
  maxFile: number;
}

/** Validates --log-opt for the local file log, with the daemon's defaults. */
export function logLimits(opts: Record<string, string> | undefined, defaults: LogLimits): LogLimits {
  const o = opts ?? {};
  for (const k of Object.keys(o)) if (!['max-size', 'max-file', 'compress', 'mode', 'tag', 'labels', 'env'].includes(k)) throw invalidArgument(`unknown log opt '${k}' for k8s-file log driver`);
  const maxSize = o['max-size'] !== undefined ? (o['max-size'] === '-1' ? 0 : parseSize(o['max-size'])) : defaults.maxSize;
  const maxFile = o['max-file'] !== undefined ? Number(o['max-file']) : defaults.maxFile;
  if (!Number.isInteger(maxFile) || maxFile < 1) throw invalidArgument(`max-file must be a positive integer, got '${o['max-file']}'`);
  return { maxSize, maxFile };
}

/**
 * Rotates a live log: path.(n-1) → path.n … path → path.1; the caller then
 * asks conmon to reopen the path. The oldest file beyond maxFile is removed.
 */
export async function rotateLog(file: string, maxFile: number): Promise<void> {
  if (maxFile <= 1) return;
  await fsp.rm(`${file}.${maxFile - 1}`, { force: true });
  for (let i = maxFile - 2; i >= 1; i--) {
    await fsp.rename(`${file}.${i}`, `${file}.${i + 1}`).catch((e) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
  }
  await fsp.rename(file, `${file}.1`).catch((e) => {
    if (!isErrno(e, 'ENOENT')) throw e;
  });
}
