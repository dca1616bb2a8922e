import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { conflict, errorMessage, internal, invalidArgument, isErrno, notFound } from '../base/errors';
import { fsyncDir, mkdirp, statIfExists } from '../base/files';
import { type Digest, parseDigest } from '../oci/digest';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * An open write into the store. Nothing is visible to readers until
 * commit() has checked size and digest and moved the blob into place;
 * abort() drops what was written. A named write (`ref`) that is neither
 * committed nor aborted stays on disk and can be resumed by opening a
 * writer with the same ref; close() lets go of it for that.
 */
export interface Writer {
  readonly ref: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes held so far, including those of earlier sessions of a resumed write. */
  readonly written: number;
  commit(expected?: { size?: number; digest?: Digest }): Promise<BlobInfo>;
  abort(): Promise<void>;
  /** Ends this session of a named write, keeping its bytes for a later one. */
  close(): Promise<void>;
  /** The bytes an earlier session of this write left (those counted in `written` when it opened). */
  resumed(): Readable;
}

export interface IngestInfo {
  /** The ref of a named write; for others, the folder's name. */
  ref: string;
  /** Its folder under ingest/ (what removeIngestFolder takes). */
  folder: string;
  /** A named write that can be resumed; anonymous ones cannot. */
  resumable: boolean;
  size: number;
  updated: Date;
  /** A writer of this store has it open now. */
  active: boolean;
}

/** A blob stored anew, or removed. */
export interface BlobChange {
  digest: Digest;
  kind: 'added' | 'removed';
}

const REF_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TMP = 'tmp-';
const NAMED = 'ref-';

/**
 * Content-addressable blob store: blobs/<algorithm>/<hex> under its root,
 * written only through Writers. Writes in progress live in ingest/<name>/data:
 * anonymous ones (tmp-*) do not outlive the process and are cleared at open,
 * named ones (ref-*) are kept for resuming; whoever names them removes the
 * stale ones (removeIngest).
 */
export class ContentStore {
  private readonly open_ = new Set<string>();
  private readonly listeners = new Set<(e: BlobChange) => void>();

  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<ContentStore> {
    await mkdirp(path.join(root, 'blobs', 'sha256'));
    await mkdirp(path.join(root, 'blobs', 'sha512'));
    await mkdirp(path.join(root, 'ingest'));
    for (const name of await fsp.readdir(path.join(root, 'ingest'))) {
      if (!name.startsWith(NAMED)) await fsp.rm(path.join(root, 'ingest', name), { recursive: true, force: true });
    }
    return new ContentStore(root);
  }

  blobPath(digest: Digest): string {
    const { algorithm, hex } = parseDigest(digest);
    return path.join(this.root, 'blobs', algorithm, hex);
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const st = await fsp.stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async read(digest: Digest): Promise<Buffer> {
    try {
      return await fsp.readFile(this.blobPath(digest));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw notFound(`content ${digest}: not found`);
      throw e;
    }
  }

  async readJson<T>(digest: Digest): Promise<T> {
    const body = await this.read(digest);
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch (e) {
      throw internal(`content ${digest}: not valid JSON (${errorMessage(e)}): the blob is damaged`, e);
    }
  }

  /** The blob's bytes, or those from `start` to `end` inclusive. */
  async stream(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    if (!(await this.has(digest))) throw notFound(`content ${digest}: not found`);
    return createReadStream(this.blobPath(digest), { ...range, highWaterMark: 1 << 20 });
  }

  async delete(digest: Digest): Promise<void> {
    const st = await statIfExists(this.blobPath(digest));
    await fsp.rm(this.blobPath(digest), { force: true });
    if (st) this.tell({ digest, kind: 'removed' });
  }

  /** Calls back after each blob stored anew or removed (a cluster node says what it holds); the stopper. */
  onChange(listener: (e: BlobChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(e: BlobChange): void {
    for (const l of this.listeners) l(e);
  }

  /** Marks a blob as used now (its mtime): a collector spares what was touched after it began. */
  async touch(digest: Digest): Promise<void> {
    const now = new Date();
    await fsp.utimes(this.blobPath(digest), now, now).catch((e) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
  }

  /** When the blob was written or last touched. */
  async touched(digest: Digest): Promise<Date | undefined> {
    const st = await statIfExists(this.blobPath(digest));
    return st?.mtime;
  }

  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const algorithm of ['sha256', 'sha512']) {
      const dir = path.join(this.root, 'blobs', algorithm);
      for (const hex of await fsp.readdir(dir)) {
        const st = await statIfExists(path.join(dir, hex));
        if (st) out.push({ digest: `${algorithm}:${hex}`, size: st.size });
      }
    }
    return out;
  }

  /** Writes in progress, or left by a crash or an interrupted transfer. */
  async ingests(): Promise<IngestInfo[]> {
    const out: IngestInfo[] = [];
    for (const name of await fsp.readdir(path.join(this.root, 'ingest'))) {
      const st = await statIfExists(path.join(this.root, 'ingest', name, 'data'));
      const resumable = name.startsWith(NAMED);
      out.push({
        ref: resumable ? name.slice(NAMED.length) : name,
        folder: name,
        resumable,
        size: st?.size ?? 0,
        updated: st?.mtime ?? new Date(0),
        active: this.open_.has(name),
      });
    }
    return out;
  }

  /** Drops a named write that no writer has open. */
  removeIngest(ref: string): Promise<void> {
    return this.removeIngestFolder(this.ingestName(ref));
  }

  /** Drops an ingest folder (as ingests() names it) that no writer has open. */
  async removeIngestFolder(folder: string): Promise<void> {
    const name = path.basename(folder);
    if (this.open_.has(name)) throw conflict(`content write ${folder} is in progress`);
    await fsp.rm(path.join(this.root, 'ingest', name), { recursive: true, force: true });
  }

  private ingestName(ref: string): string {
    if (!REF_RE.test(ref)) throw invalidArgument(`invalid content write reference ${JSON.stringify(ref)}`);
    return NAMED + ref;
  }

  /**
   * Opens a write. With `ref`, the write is named: the bytes a former session
   * left under that ref are kept and hashed again, and new ones append.
   * One writer per ref at a time.
   */
  async writer(opts: { ref?: string } = {}): Promise<Writer> {
    const name = opts.ref !== undefined ? this.ingestName(opts.ref) : TMP + randomBytes(8).toString('hex');
    if (this.open_.has(name)) throw conflict(`content write ${opts.ref} is in progress`);
    this.open_.add(name);
    try {
      return await this.openWriter(name, opts.ref ?? name);
    } catch (e) {
      this.open_.delete(name);
      throw e;
    }
  }

  private async openWriter(name: string, ref: string): Promise<Writer> {
    const dir = path.join(this.root, 'ingest', name);
    await mkdirp(dir);
    const file = path.join(dir, 'data');
    const hash: Hash = createHash('sha256');
    let written = 0;
    const before = await statIfExists(file);
    if (before) {
      for await (const chunk of createReadStream(file)) {
        hash.update(chunk as Buffer);
        written += (chunk as Buffer).length;
      }
    }
    const resumedBytes = written;
    const fh = await fsp.open(file, 'a', 0o644);
    let done = false;
    let writing: Promise<unknown> = Promise.resolve();
    const finish = async (keep: boolean) => {
      done = true;
      // Ending a write: its own failure was the caller's already; closing a file handle that failed cannot lose data here.
      await writing.catch(() => undefined);
      await fh.close().catch(() => undefined);
      if (!keep) await fsp.rm(dir, { recursive: true, force: true });
      this.open_.delete(name);
    };
    const check = (what: string) => {
      if (done) throw conflict(`${what} after commit, abort or close`);
    };
    return {
      ref,
      get written() {
        return written;
      },
      write: async (chunk) => {
        check('write');
        hash.update(chunk);
        written += chunk.length;
        writing = fh.write(chunk);
        await writing;
      },
      commit: async (expected = {}) => {
        check('commit');
        let digest = 'sha256:' + hash.digest('hex');
        try {
          if (expected.size !== undefined && expected.size !== written)
            throw invalidArgument(`size mismatch: expected ${expected.size} bytes, got ${written}`);
          await fh.sync();
          if (expected.digest?.startsWith('sha512:')) digest = await fileDigest(file, 'sha512');
          if (expected.digest !== undefined && expected.digest !== digest)
            throw invalidArgument(`digest mismatch: expected ${expected.digest}, got ${digest}`);
          const target = this.blobPath(digest);
          if (!(await this.has(digest))) {
            await fsp.rename(file, target);
            await fsyncDir(path.dirname(target));
            this.tell({ digest: digest as Digest, kind: 'added' });
          }
        } finally {
          await finish(false);
        }
        return { digest, size: written };
      },
      abort: () => finish(false),
      close: () => finish(name.startsWith(NAMED)),
      resumed: () => (resumedBytes ? createReadStream(file, { start: 0, end: resumedBytes - 1, highWaterMark: 1 << 20 }) : Readable.from([])),
    };
  }

  /** Streams a whole readable into the store. */
  async ingest(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected?: { size?: number; digest?: Digest }): Promise<BlobInfo> {
    const w = await this.writer();
    try {
      for await (const chunk of src) await w.write(chunk);
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w.commit(expected);
  }

  async put(data: string | Uint8Array): Promise<BlobInfo> {
    return this.ingest([typeof data === 'string' ? Buffer.from(data) : data]);
  }
}

async function fileDigest(file: string, algorithm: 'sha256' | 'sha512'): Promise<Digest> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return `${algorithm}:${h.digest('hex')}`;
}
