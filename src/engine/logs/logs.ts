import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, isErrno } from '../../base/errors';
import { parseSize } from '../../base/sizes';

/** One message of a container's output as conmon logged it (k8s-file format). */
export interface LogEntry {
  readonly stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, as conmon wrote it. */
  readonly time: string;
  readonly data: Buffer;
  /** A full line (a newline followed); false for a partial chunk. */
  readonly full: boolean;
  readonly dataLength: number;
  /** Copies the data into target at an offset; returns the offset after it. */
  copyData(target: Buffer, at: number): number;
}

const SPACE = 0x20;
const NL = 0x0a;
const [S, T, D, O, U, E, R, P] = [...'stdouerP'].map((c) => c.charCodeAt(0));

/**
 * An entry as offsets into the chunk it was read in: a log flood parses
 * millions of lines, and slicing a Buffer per field costs more than the parse.
 */
class ParsedEntry implements LogEntry {
  constructor(
    readonly stream: 'stdout' | 'stderr',
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly timeEnd: number,
    private readonly dataStart: number,
    private readonly end: number,
    readonly full: boolean,
  ) {}
  get time(): string {
    return this.buf.toString('latin1', this.start, this.timeEnd);
  }
  get data(): Buffer {
    return this.buf.subarray(this.dataStart, this.end);
  }
  get dataLength(): number {
    return this.end - this.dataStart;
  }
  copyData(target: Buffer, at: number): number {
    // Most lines are short, and a byte loop beats Buffer.copy's call cost below a few dozen bytes.
    if (this.end - this.dataStart > 48) return at + this.buf.copy(target, at, this.dataStart, this.end);
    for (let i = this.dataStart; i < this.end; i++) target[at++] = this.buf[i];
    return at;
  }
}

/**
 * Parses the k8s-file line `<time> <stream> <F|P> <content>` at buf[start, end)
 * (without its newline). The chunk must not be reused: the entry points into it.
 */
function parseAt(buf: Buffer, start: number, end: number): LogEntry | undefined {
  const s1 = buf.indexOf(SPACE, start);
  // "stdout" or "stderr", then a space, then the tag.
  if (s1 < 0 || end < s1 + 9 || buf[s1 + 7] !== SPACE || buf[s1 + 1] !== S || buf[s1 + 2] !== T || buf[s1 + 3] !== D) return undefined;
  const out = buf[s1 + 4] === O && buf[s1 + 5] === U && buf[s1 + 6] === T;
  const err = buf[s1 + 4] === E && buf[s1 + 5] === R && buf[s1 + 6] === R;
  if (!out && !err) return undefined;
  const tag = s1 + 8;
  if (end > tag + 1 && buf[tag + 1] !== SPACE) return undefined;
  return new ParsedEntry(out ? 'stdout' : 'stderr', buf, start, s1, Math.min(tag + 2, end), end, buf[tag] !== P);
}

/** Parses one k8s-file line (without its newline). */
export function parseLogLine(line: Buffer): LogEntry | undefined {
  return parseAt(line, 0, line.length);
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

/** The files of one log, oldest first: path.N ... path.1, path. Synchronous: log readers list them between a rotation's renames. */
export function logFiles(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
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

/** Cuts a byte stream into k8s-file lines and parses them; keeps the unterminated rest. */
export class LineParser {
  private rest?: Buffer;
  /** The wanted entries of the whole lines in a chunk just read (a chunk of its own, not reused). */
  push(chunk: Buffer, o: ReadOptions): LogBatch {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: LogBatch = [];
    let start = 0;
    for (let nl = buf.indexOf(NL); nl >= 0; nl = buf.indexOf(NL, start)) {
      const e = parseAt(buf, start, nl);
      if (e && wanted(e, o)) out.push(e);
      start = nl + 1;
    }
    this.rest = start < buf.length ? buf.subarray(start) : undefined;
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

/** Entries in the order written, as many as one read of the file gave. */
export type LogBatch = LogEntry[];

/** docker's size strings: 10m, 1g, 512k, 100 (bytes). */
export interface LogLimits {
  maxSize: number;
  maxFile: number;
}

/** Validates --log-opt for the local file log, with the daemon's defaults. */
export function logLimits(opts: Record<string, string> | undefined, defaults: LogLimits, driver = 'json-file'): LogLimits {
  const o = opts ?? {};
  // json-file's and local's options (docker's names), taken by the one format Berth writes.
  const known = driver === 'none' ? [] : ['max-size', 'max-file', 'compress', 'mode', 'max-buffer-size', 'tag', 'labels', 'labels-regex', 'env', 'env-regex'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw invalidArgument(`unknown log opt '${k}' for ${driver} log driver`);
  // The none driver keeps no readable log: a ring of 2 × 1 MiB serves attach only.
  if (driver === 'none') return { maxSize: 1 << 20, maxFile: 2 };
  const maxSize = o['max-size'] !== undefined ? (o['max-size'] === '-1' ? 0 : parseSize(o['max-size'])) : defaults.maxSize;
  const maxFile = o['max-file'] !== undefined ? Number(o['max-file']) : defaults.maxFile;
  if (!Number.isInteger(maxFile) || maxFile < 1) throw invalidArgument(`max-file must be a positive integer, got '${o['max-file']}'`);
  return { maxSize, maxFile };
}

/**
 * Moves the file at the path into the history: path.(n-1) → path.n …
 * path → path.1, removing what would go beyond path.maxFile. Synchronous:
 * a handful of renames, done before conmon can fill the new file, rather
 * than queued behind the reads of the thread pool.
 */
export function rotateLog(file: string, maxFile: number): void {
  if (maxFile <= 1) return;
  fs.rmSync(`${file}.${maxFile}`, { force: true });
  for (let i = maxFile - 1; i >= 0; i--) {
    try {
      fs.renameSync(i ? `${file}.${i}` : file, `${file}.${i + 1}`);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  }
}
