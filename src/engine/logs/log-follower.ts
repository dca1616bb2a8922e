import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isErrno } from '../../base/errors';
import { LineParser, type LogBatch, type LogEntry, logFiles, type ReadOptions } from './logs';

const read = promisify(fs.read);

interface OpenFile {
  fd: number;
  pos: number;
  lines: LineParser;
}

export interface FollowOptions extends ReadOptions {
  /** True once the writer is finished: the reader then stops at the end of what was written. */
  done: () => boolean;
  /** Settles when done() may have turned true, so the reader need not wait for its next look. */
  ended?: Promise<unknown>;
  signal?: AbortSignal;
}

const CHUNK = 256 * 1024;

/**
 * Reads a log that conmon writes and the daemon rotates, in order, losing
 * and repeating nothing. A file stays open from when it is first seen until
 * it has been read to its end after its successor appeared: conmon creates
 * a new file only once it has stopped writing the old one. Open files
 * survive rotation and removal, so a reader that falls behind a flood still
 * gets every line, holding at most `holdBytes` of removed files (then the
 * oldest is given up: the disk stays bounded).
 *
 * New files are looked for as the folder changes, whether or not the reader
 * is reading (a slow client must not miss one), and synchronously: a look
 * takes microseconds, and the daemon's own rotation (synchronous too) can
 * never happen half-way through it.
 */
export class LogFollower {
  private readonly queue: OpenFile[] = [];
  /** Files seen (`inode:birth`) and their age when last seen (0 at the path, n at path.n); oldest first. */
  private readonly seen = new Map<string, number>();
  private readonly watcher?: fs.FSWatcher;
  private wake?: () => void;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly holdBytes: number,
    from: 'start' | 'end',
  ) {
    this.scan(from);
    try {
      const base = path.basename(file);
      this.watcher = fs.watch(path.dirname(file), (ev, name) => {
        if (ev === 'rename' && String(name ?? base).startsWith(base)) this.scan();
        this.wake?.();
      });
      this.watcher.on('error', () => {});
    } catch {
      this.watcher = undefined;
    }
  }

  /** Opens what exists now: every file of the log from its start, or (`end`) only what is written from now on. */
  static open(file: string, from: 'start' | 'end', holdBytes = Infinity): LogFollower {
    return new LogFollower(file, holdBytes, from);
  }

  /**
   * Files not seen before go to the back of the queue, oldest first. A file
   * is known by inode and birth time (an inode alone is reused at once); a
   * file opened is checked to be the one listed, and the look is taken
   * again when conmon renamed it in between. The memory of files seen is
   * trimmed to the newest: an old file cannot come back once many newer
   * ones have been made.
   */
  private scan(initial?: 'start' | 'end'): void {
    if (this.closed) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const chain = logFiles(this.file);
      const opened: { fd: number; id: string; name: string; size: number }[] = [];
      let moved = false;
      for (const name of chain) {
        const known = identity(name);
        if (!known || this.isKnown(known, name)) continue;
        let fd: number;
        try {
          fd = fs.openSync(name, 'r');
        } catch (e) {
          if (isErrno(e, 'ENOENT')) continue;
          throw e;
        }
        const st = fs.fstatSync(fd, { bigint: true });
        const id = `${st.ino}:${st.birthtimeNs}`;
        opened.push({ fd, id, name, size: Number(st.size) });
        if (id !== known) moved = true;
      }
      if (moved) {
        for (const o of opened) fs.closeSync(o.fd);
        continue;
      }
      for (const name of chain) {
        const id = identity(name);
        if (id) this.seen.set(id, age(this.file, name));
      }
      for (const o of opened) {
        // From the end: only the newest file (the one conmon writes, at the path or already moved to path.1), at its size.
        if (initial === 'end' && o.name !== chain[chain.length - 1]) fs.closeSync(o.fd);
        else this.queue.push({ fd: o.fd, pos: initial === 'end' ? o.size : 0, lines: new LineParser() });
      }
      const keep = 2 * chain.length + 16;
      for (const id of this.seen.keys()) {
        if (this.seen.size <= keep) break;
        this.seen.delete(id);
      }
      return;
    }
  }

  /**
   * Seen before, and not younger than when seen: files only age (path →
   * path.1 → …). A file at a younger place with a known identity is new, its
   * inode reused within the birth time's granularity (a few ms on ext4).
   */
  private isKnown(id: string, name: string): boolean {
    const was = this.seen.get(id);
    return was !== undefined && age(this.file, name) >= was;
  }

  /** Gives up the oldest files while the unread bytes of the rest exceed what may be held. */
  private keepWithinHold(): void {
    if (!Number.isFinite(this.holdBytes)) return;
    while (this.queue.length > 1) {
      let held = 0;
      for (const q of this.queue.slice(1)) held += fs.fstatSync(q.fd).size - q.pos;
      if (held <= this.holdBytes) return;
      fs.closeSync(this.queue.shift()!.fd);
    }
  }

  /**
   * Batches in the order written until the writer is done and all it wrote
   * is read (or the signal aborts). With tail, only the last N entries of
   * what exists when the reading starts, then everything after them.
   */
  async *read(o: FollowOptions & { tail?: number }): AsyncGenerator<LogBatch> {
    let ring: LogEntry[] | undefined = o.tail !== undefined && o.tail >= 0 ? [] : undefined;
    // Not following: the tail is of what exists now, not of lines a running container adds while it is read.
    const once = o.done();
    const onAbort = () => this.wake?.();
    o.signal?.addEventListener('abort', onAbort);
    void o.ended?.then(onAbort, onAbort);
    try {
      for (;;) {
        if (o.signal?.aborted || this.closed) return;
        const cur = this.queue[0];
        if (cur) {
          // Whether a successor was known before this read began: only then is an empty read the file's end.
          const succeeded = this.queue.length > 1;
          const buf = Buffer.allocUnsafe(CHUNK);
          const { bytesRead } = await read(cur.fd, buf, 0, CHUNK, cur.pos);
          if (bytesRead > 0) {
            cur.pos += bytesRead;
            const batch = cur.lines.push(buf.subarray(0, bytesRead), o);
            if (!batch.length) continue;
            if (!ring) yield batch;
            else {
              ring.push(...batch);
              // Trimmed in steps, not per entry: the ring stays under twice the tail.
              if (ring.length > 2 * o.tail!) ring = ring.slice(-o.tail!);
            }
            continue;
          }
          if (succeeded && this.queue[0] === cur) {
            // conmon makes the successor only after its last write to this one.
            fs.closeSync(this.queue.shift()!.fd);
            this.keepWithinHold();
            continue;
          }
        }
        if (ring) {
          // Caught up with what existed: the tail, then everything new as it comes.
          const last = o.tail ? ring.slice(-o.tail) : [];
          ring = undefined;
          for (let i = 0; i < last.length; i += 1024) yield last.slice(i, i + 1024);
          if (once) return;
        }
        // At the end of the newest file. Asked first: whatever was written before the writer finished is seen below.
        const finished = o.done();
        const before = this.queue.length;
        this.scan();
        if (this.queue.length !== before || (cur && this.queue[0] === cur && fs.fstatSync(cur.fd).size > cur.pos)) continue;
        if (finished) return;
        await new Promise<void>((res) => {
          const t = setTimeout(res, 250);
          this.wake = () => {
            clearTimeout(t);
            res();
          };
        });
        this.wake = undefined;
      }
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const q of this.queue.splice(0)) fs.closeSync(q.fd);
  }
}

/** 0 for the live file, n for path.n. */
function age(file: string, name: string): number {
  return name === file ? 0 : Number(name.slice(file.length + 1));
}

/** inode and birth time of a file, or undefined when it is gone. */
function identity(file: string): string | undefined {
  const st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.ino}:${st.birthtimeNs}` : undefined;
}

/** Reads a log from a follower opened now, and closes it at the end. */
export async function* followLog(file: string, from: 'start' | 'end', o: FollowOptions & { tail?: number; holdBytes?: number }): AsyncGenerator<LogBatch> {
  const f = LogFollower.open(file, from, o.holdBytes);
  try {
    yield* f.read(o);
  } finally {
    f.close();
  }
}

/** What the log holds now, filtered; with tail, only the last entries (memory bounded by tail). */
export function readLogs(file: string, o: ReadOptions = {}): AsyncGenerator<LogBatch> {
  return followLog(file, 'start', { ...o, done: () => true });
}
