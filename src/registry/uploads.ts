import { randomUUID } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { atomicWriteJson, mkdirp, readdirIfExists, readJsonIfExists } from '../base/files';
import type { BlobInfo, Writer } from '../content/store';
import type { Digest } from '../oci/digest';
import { regErr } from './errors';
import type { Repositories } from './repositories';

/** A session's record, `<name>/_uploads/<id>`; its bytes are the content store's named write `up-<id>`. */
interface UploadRecord {
  started: string;
}

interface Live {
  writer: Writer;
  busy: boolean;
  idle?: NodeJS.Timeout;
}

const IDLE_MS = 60_000;
const ID_RE = /^[0-9a-f-]{36}$/;

/**
 * Blob upload sessions. A session's bytes go through the content store's
 * named writes, so they are hashed as they arrive, kept across a break (the
 * client asks where it stands and goes on), and become a blob only when the
 * final PUT's digest matches. Writers of live sessions stay open (their
 * hash in memory); one idle for a minute is closed and reopened, hashed
 * again from disk, when the client comes back.
 */
export class Uploads {
  private readonly live = new Map<string, Live>();
  private readonly opening = new Map<string, Promise<Live>>();

  constructor(private readonly repos: Repositories) {}

  private record(name: string, id: string): string {
    return path.join(this.repos.dir(name), '_uploads', id);
  }

  async start(name: string): Promise<string> {
    const id = randomUUID();
    await mkdirp(path.dirname(this.record(name, id)));
    await atomicWriteJson(this.record(name, id), { started: new Date().toISOString() } satisfies UploadRecord);
    return id;
  }

  /**
   * Runs `fn` with the session's writer, one request at a time per session.
   * A request that finds it busy is told where it stands (416).
   */
  async with<T>(name: string, id: string, fn: (w: Writer) => Promise<T>): Promise<T> {
    const live = await this.open(name, id);
    if (live.busy) throw outOfOrder(live.writer.written);
    live.busy = true;
    clearTimeout(live.idle);
    try {
      return await fn(live.writer);
    } finally {
      live.busy = false;
      this.armIdle(id, live);
    }
  }

  /** An idle session lets go of its writer after a while. */
  private armIdle(id: string, live: Live): void {
    clearTimeout(live.idle);
    if (this.live.get(id) === live) live.idle = setTimeout(() => void this.release(id), IDLE_MS).unref();
  }

  private async open(name: string, id: string): Promise<Live> {
    const known = this.live.get(id);
    if (known) {
      if (!(await readJsonIfExists<UploadRecord>(this.record(name, id)))) throw unknownUpload(id);
      return known;
    }
    // Requests that find the session closed at once share one opening: the store has one writer per name.
    let opening = this.opening.get(id);
    if (!opening) {
      opening = this.reopen(name, id).finally(() => this.opening.delete(id));
      this.opening.set(id, opening);
    }
    return opening;
  }

  private async reopen(name: string, id: string): Promise<Live> {
    if (!ID_RE.test(id) || !(await readJsonIfExists<UploadRecord>(this.record(name, id)))) throw unknownUpload(id);
    const live: Live = { writer: await this.repos.content.writer({ ref: `up-${id}` }), busy: false };
    this.live.set(id, live);
    return live;
  }

  private async release(id: string): Promise<void> {
    const live = this.live.get(id);
    if (!live || live.busy) return;
    this.live.delete(id);
    await live.writer.close().catch(() => undefined); // an idle session's bytes stay on disk; the next request hashes them again
  }

  /**
   * Bytes received so far. Only a look: a status request must not hold the
   * session, or a chunk arriving meanwhile would be refused as busy.
   */
  async offset(name: string, id: string): Promise<number> {
    const live = await this.open(name, id);
    if (live.busy) throw outOfOrder(live.writer.written);
    this.armIdle(id, live);
    return live.writer.written;
  }

  /** Turns the session's bytes into a blob of the repository if they have this digest; the session ends either way. */
  async commit(name: string, id: string, w: Writer, digest: Digest): Promise<BlobInfo> {
    this.live.delete(id);
    try {
      return await this.repos.gate.shared(async () => {
        const info = await w.commit({ digest });
        await this.repos.linkBlob(name, info.digest);
        return info;
      });
    } catch (e) {
      if ((e as { code?: string }).code === 'invalid_argument') throw regErr('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest });
      throw e;
    } finally {
      await fsp.rm(this.record(name, id), { force: true });
    }
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.with(name, id, async (w) => {
      this.live.delete(id);
      await w.abort();
      await fsp.rm(this.record(name, id), { force: true });
    });
  }

  /** Sessions of a repository, with when they began. */
  async list(name: string): Promise<{ id: string; started: Date; active: boolean }[]> {
    const dir = path.join(this.repos.dir(name), '_uploads');
    const out = [];
    for (const id of await readdirIfExists(dir)) {
      const rec = await readJsonIfExists<UploadRecord>(path.join(dir, id));
      if (rec) out.push({ id, started: new Date(rec.started), active: this.live.get(id)?.busy ?? false });
    }
    return out;
  }

  /** Drops a session nobody is sending to: its record and its bytes. */
  async purge(name: string, id: string): Promise<void> {
    const live = this.live.get(id);
    if (live?.busy) return;
    this.live.delete(id);
    if (live) await live.writer.abort();
    else await this.repos.content.removeIngest(`up-${id}`).catch(() => {});
    await fsp.rm(this.record(name, id), { force: true });
  }

  /** Closes the writers of live sessions (their bytes stay for a later server). */
  async close(): Promise<void> {
    for (const id of [...this.live.keys()]) {
      const live = this.live.get(id)!;
      clearTimeout(live.idle);
      this.live.delete(id);
      await live.writer.close().catch(() => undefined); // at shutdown: the bytes stay on disk for the session to resume
    }
  }
}

export const unknownUpload = (id: string) => regErr('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });

/** The spec's answer to a chunk that does not start where the upload stands. */
export const outOfOrder = (offset: number) =>
  Object.assign(regErr('BLOB_UPLOAD_INVALID', 'chunk out of order: the upload holds bytes 0-' + Math.max(0, offset - 1), undefined, 416), { offset });
