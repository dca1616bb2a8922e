import { randomBytes } from 'node:crypto';
import { Limiter } from '../base/limiter';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { BerthError, errorMessage, invalidArgument } from '../base/errors';
import type { Writer } from '../content/store';
import { type Digest, parseDigest } from '../oci/digest';
import type { Descriptor, ImageConfig, Manifest } from '../oci/image';
import { chainIds, type ImageRecord, type ImageStore } from './store';
import { unpackLayer } from './unpack';

/** Where a pull's blobs come from (a registry's repository, a cluster's nodes). */
export interface BlobFetcher {
  /** A blob's bytes from `offset` on; the answer's `offset` says where the stream really starts (0 if the source ignored it). */
  fetch(digest: Digest, offset: number): Promise<{ stream: Readable; offset: number }>;
  /** Told when a blob it served is in the content store, checked against its digest. */
  stored?(digest: Digest): void;
}

/** A step of a layer (id: the short digest) or of the image, as docker reports them. */
export interface PullEvent {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

export interface PullOptions {
  /** Names the image gets (canonical references). */
  names: string[];
  /** `repository@digest` the image is known by in the registry. */
  repoDigest?: string;
  /** Layers fetched at once (6, as containers/image; docker's max-concurrent-downloads is 3). */
  concurrency?: number;
  /** Tries per layer when the connection fails; each resumes where the last stopped. */
  attempts?: number;
  onProgress?: (e: PullEvent) => void;
  signal?: AbortSignal;
  /** Looks at the config before any layer is fetched; throws to refuse the image (a platform that is not the one asked for). */
  accept?: (config: ImageConfig) => void;
}

const short = (d: Digest) => parseDigest(d).hex.slice(0, 12);

/**
 * Makes an image from a manifest whose blobs `src` serves. Layers download in
 * parallel and each is unpacked as it streams, into a snapshot of its own
 * (stacked on its parent when committed, in order); the compressed bytes go to
 * the content store through a named write, so a broken download resumes where
 * it stopped (a Range request) and replays what it had into the unpacking.
 * Layers whose snapshot exists are not fetched; blobs already in the store
 * are unpacked from it.
 */
export async function pullImage(store: ImageStore, src: BlobFetcher, manifestDigest: Digest, manifestBody: Buffer, o: PullOptions): Promise<ImageRecord> {
  const progress = o.onProgress ?? (() => {});
  return store.gate.shared(async () => {
    const manifest = JSON.parse(manifestBody.toString('utf8')) as Manifest;
    if (!manifest.config || !Array.isArray(manifest.layers)) throw invalidArgument(`manifest ${manifestDigest} is not an image manifest`);
    if (!(await store.content.has(manifest.config.digest))) {
      const { stream } = await src.fetch(manifest.config.digest, 0);
      await store.content.ingest(stream, { digest: manifest.config.digest, size: manifest.config.size });
      src.stored?.(manifest.config.digest);
    }
    const config = await store.content.readJson<ImageConfig>(manifest.config.digest);
    o.accept?.(config);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) throw invalidArgument('image: manifest layers and config diff_ids differ in number');
    const chains = chainIds(diffIds);

    const slots = new Limiter(o.concurrency ?? 6);
    const staged: Promise<string | undefined>[] = manifest.layers.map(async (layer, i) => {
      if (await store.snapshots.exists(chains[i])) {
        progress({ id: short(layer.digest), status: 'Already exists' });
        return undefined;
      }
      progress({ id: short(layer.digest), status: 'Pulling fs layer' });
      return slots.run(() => fetchLayer(store, src, layer, diffIds[i], chains[i], o, progress));
    });
    // Committed in order, each on the one below; what follows a failure is dropped.
    let failure: unknown;
    for (let i = 0; i < chains.length; i++) {
      const key = await staged[i].catch((e) => {
        failure ??= e;
        return undefined;
      });
      if (!key) continue;
      // Best effort: a snapshot a failed removal leaves, system check finds (an active one no container owns).
      if (failure) await store.snapshots.remove(key).catch(() => undefined);
      else {
        await store.snapshots.commit(chains[i], key, { parent: chains[i - 1] });
        progress({ id: short(manifest.layers[i].digest), status: 'Pull complete' });
      }
    }
    if (failure) throw failure;
    if (!(await store.content.has(manifestDigest))) await store.content.ingest([manifestBody], { digest: manifestDigest });
    return store.create(manifestDigest, o.names, {}, o.repoDigest);
  });
}

/** Downloads and unpacks one layer into a snapshot of its own; returns the snapshot's key. */
async function fetchLayer(store: ImageStore, src: BlobFetcher, layer: Descriptor, diffId: Digest, chain: string, o: PullOptions, progress: (e: PullEvent) => void): Promise<string> {
  const id = short(layer.digest);
  const attempts = o.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    const key = `pull-${chain}-${randomBytes(4).toString('hex')}`;
    await store.snapshots.prepare(key, undefined);
    try {
      const got = (await store.content.has(layer.digest))
        ? await unpackLayer(await store.content.stream(layer.digest), store.snapshots.upperDir(key), layer.mediaType)
        : await download(store, src, layer, store.snapshots.upperDir(key), o, progress);
      if (got !== diffId) throw invalidArgument(`layer ${layer.digest}: its content ${got} is not the diff_id ${diffId} the config names`);
      return key;
    } catch (e) {
      await store.snapshots.remove(key).catch(() => undefined); // best effort, as above
      // A refusal of the bytes themselves (digest, size, an unsafe tar) will not mend by trying again.
      if (e instanceof BerthError || attempt >= attempts || o.signal?.aborted) throw e;
      progress({ id, status: `Retrying in ${attempt} second${attempt > 1 ? 's' : ''}` });
      await new Promise((r) => setTimeout(r, attempt * 1000));
    }
  }
}

/**
 * Streams a layer into the content store and, at once, into the unpacking:
 * the bytes an earlier attempt left are replayed first, then the rest is
 * asked for with a Range. Returns the diff id of what was unpacked.
 */
async function download(store: ImageStore, src: BlobFetcher, layer: Descriptor, dir: string, o: PullOptions, progress: (e: PullEvent) => void): Promise<Digest> {
  const id = short(layer.digest);
  let w: Writer = await store.content.writer({ ref: `pull-${parseDigest(layer.digest).hex}` });
  const tar = new PassThrough({ highWaterMark: 1 << 20 });
  const unpacked = unpackLayer(tar, dir, layer.mediaType);
  unpacked.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
  let kept = false;
  try {
    const { stream, offset } = await src.fetch(layer.digest, w.written);
    if (offset !== w.written) {
      // The source sent the whole blob: start over.
      await w.abort();
      w = await store.content.writer({ ref: `pull-${parseDigest(layer.digest).hex}` });
    }
    const feed = async (chunk: Buffer) => {
      if (!tar.write(chunk)) await Promise.race([once(tar, 'drain'), unpacked]);
    };
    for await (const chunk of w.resumed()) await feed(chunk as Buffer);
    let last = 0;
    for await (const chunk of stream) {
      o.signal?.throwIfAborted();
      await w.write(chunk as Buffer);
      await feed(chunk as Buffer);
      if (w.written - last >= 512 << 10 || w.written === layer.size) {
        last = w.written;
        progress({ id, status: 'Downloading', current: w.written, total: layer.size });
      }
    }
    tar.end();
    const diffId = await unpacked;
    progress({ id, status: 'Verifying Checksum' });
    await w.commit({ digest: layer.digest, size: layer.size });
    src.stored?.(layer.digest);
    progress({ id, status: 'Download complete' });
    kept = true;
    return diffId;
  } catch (e) {
    // With an error: a stream destroyed without one leaves its readers waiting.
    tar.destroy(e instanceof Error ? e : new Error(String(e)));
    await unpacked.catch(() => undefined); // the stream's own error (e) is the one thrown
    // Bytes that arrived are kept for the next attempt, unless they are the wrong ones.
    // Best effort: a write left behind is an ingest system check removes after a day; e is what is thrown.
    if (!kept) await (e instanceof BerthError ? w.abort() : w.close()).catch(() => undefined);
    throw e instanceof BerthError ? e : new Error(`layer ${layer.digest}: ${errorMessage(e)}`, { cause: e });
  }
}

