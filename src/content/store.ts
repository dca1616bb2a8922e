import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { conflict, invalidArgument, isErrno, notFound } from '../base/errors';
import { fsyncDir, mkdirp } from '../base/files';
import { type Digest, parseDigest } from '../oci/digest';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * An open write into the store. Nothing is visible to readers until
 * commit() has checked size and digest and moved the blob into place;
 * abort() (or a crash) leaves only an ingest folder that open() cleans.
 */
export interface Writer {
  write(chunk: Uint8Array): Promise<void>;
  readonly written: number;
  commit(expected?: { size?: number; digest?: Digest }): Promise<BlobInfo>;
  abort(): Promise<void>;
}

/**
 * Content-addressable blob store: blobs/sha256/<hex> under its root,
 * written only through Writers.
 */
export class ContentStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<ContentStore> {
    await mkdirp(path.join(root, 'blobs', 'sha256'));
    // Writes in progress do not survive a restart: resumable ingest comes with distribution.
    await fsp.rm(path.join(root, 'ingest'), { recursive: true, force: true });
    await mkdirp(path.join(root, 'ingest'));
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
    return JSON.parse((await this.read(digest)).toString('utf8')) as T;
  }

  async stream(digest: Digest): Promise<Readable> {
    if (!(await this.has(digest))) throw notFound(`content ${digest}: not found`);
    return createReadStream(this.blobPath(digest));
  }

  async delete(digest: Digest): Promise<void> {
    await fsp.rm(this.blobPath(digest), { force: true });
  }

  async list(): Promise<BlobInfo[]> {
    const dir = path.join(this.root, 'blobs', 'sha256');
    const out: BlobInfo[] = [];
    for (const hex of await fsp.readdir(dir)) {
      const st = await fsp.stat(path.join(dir, hex)).catch(() => undefined);
      if (st) out.push({ digest: `sha256:${hex}`, size: st.size });
    }
    return out;
  }

  /** Writes in progress (or left by a crash): the ingest folders. */
  async ingests(): Promise<string[]> {
    return fsp.readdir(path.join(this.root, 'ingest'));
  }

  async removeIngest(name: string): Promise<void> {
    await fsp.rm(path.join(this.root, 'ingest', path.basename(name)), { recursive: true, force: true });
  }

  async writer(): Promise<Writer> {
    const dir = path.join(this.root, 'ingest', randomBytes(8).toString('hex'));
    await mkdirp(dir);
    const file = path.join(dir, 'data');
    const fh = await fsp.open(file, 'wx', 0o644);
    const hash: Hash = createHash('sha256');
    let written = 0;
    let done = false;
    const cleanup = async () => {
      done = true;
      await fh.close().catch(() => {});
      await fsp.rm(dir, { recursive: true, force: true });
    };
    return {
      get written() {
        return written;
      },
      write: async (chunk) => {
        if (done) throw conflict('write after commit or abort');
        hash.update(chunk);
        await fh.write(chunk);
        written += chunk.length;
      },
      commit: async (expected = {}) => {
        if (done) throw conflict('commit after commit or abort');
        const digest = 'sha256:' + hash.digest('hex');
        try {
          if (expected.size !== undefined && expected.size !== written)
            throw invalidArgument(`size mismatch: expected ${expected.size} bytes, got ${written}`);
          if (expected.digest !== undefined && expected.digest !== digest)
            throw invalidArgument(`digest mismatch: expected ${expected.digest}, got ${digest}`);
          await fh.sync();
          await fh.close();
          const target = this.blobPath(digest);
          if (!(await this.has(digest))) {
            await fsp.rename(file, target);
            await fsyncDir(path.dirname(target));
          }
        } finally {
          await cleanup();
        }
        return { digest, size: written };
      },
      abort: cleanup,
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
