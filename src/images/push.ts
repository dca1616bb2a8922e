import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { invalidArgument } from '../base/errors';
import { type Digest, parseDigest, sha256 } from '../oci/digest';
import { type Descriptor, type ImageConfig, type Manifest, MediaType } from '../oci/image';
import type { PullEvent } from './pull';
import type { ImageRecord, ImageStore } from './store';

/** Where a push's blobs and manifest go (a registry's repository). */
export interface BlobSink {
  /** `domain/path` of the repository, as the store's hints name it. */
  readonly repository: string;
  has(digest: Digest): Promise<boolean>;
  /** Mounts the blob from another repository of the same registry (its path); false when the registry would not. */
  mount(digest: Digest, fromPath: string): Promise<boolean>;
  /** Sends a blob whose digest and size are known. */
  put(digest: Digest, size: number, body: Readable): Promise<void>;
  /** Sends a blob whose digest is known only when the stream has ended. */
  stream(body: Readable, digestAtEnd: () => Digest): Promise<void>;
  putManifest(reference: string, mediaType: string, body: Buffer): Promise<void>;
}

export interface PushOptions {
  tag: string;
  concurrency?: number;
  onProgress?: (e: PullEvent) => void;
}

const COMPRESSED = /gzip|zstd/;
const short = (d: Digest) => parseDigest(d).hex.slice(0, 12);

/**
 * Pushes an image: each blob the registry lacks is mounted from another of
 * its repositories known to hold it, or sent. Layers stored uncompressed
 * (built, committed, imported) are sent gzipped, compressed as they stream;
 * the compressed digest is remembered, so the next push asks the registry
 * about it before compressing again. The manifest pushed names the blobs as
 * sent; its digest is returned.
 */
export async function pushImage(store: ImageStore, sink: BlobSink, rec: ImageRecord, o: PushOptions): Promise<{ digest: Digest; size: number }> {
  const progress = o.onProgress ?? (() => {});
  const manifest = await store.manifest(rec.id);
  const config = await store.content.readJson<ImageConfig>(manifest.config.digest);
  const docker = manifest.mediaType === MediaType.DockerManifest;
  const gzipType = docker ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
  const domain = sink.repository.slice(0, sink.repository.indexOf('/'));

  /** The registry has the blob in this repository already, or mounts it from another one known to hold it. */
  const there = async (digest: Digest, id: string): Promise<boolean> => {
    if (await sink.has(digest)) {
      progress({ id, status: 'Layer already exists' });
      return true;
    }
    for (const repo of store.distribution.reposOf(digest)) {
      if (repo === sink.repository || !repo.startsWith(`${domain}/`)) continue;
      const from = repo.slice(domain.length + 1);
      if (await sink.mount(digest, from)) {
        progress({ id, status: `Mounted from ${from}` });
        return true;
      }
    }
    return false;
  };

  const sendKnown = async (desc: Descriptor, id: string): Promise<void> => {
    if (await there(desc.digest, id)) return;
    progress({ id, status: 'Pushing', current: 0, total: desc.size });
    await sink.put(desc.digest, desc.size, counted(await store.content.stream(desc.digest), (n) => progress({ id, status: 'Pushing', current: n, total: desc.size })));
    progress({ id, status: 'Pushed' });
  };

  const layers = manifest.layers.map((l, i) => ({ l, diffId: config.rootfs.diff_ids[i] }));
  for (const { l } of layers) progress({ id: short(l.digest), status: 'Preparing' });
  const pushed: Descriptor[] = new Array(layers.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < layers.length; i = next++) {
      const { l, diffId } = layers[i];
      const id = short(l.digest);
      if (COMPRESSED.test(l.mediaType)) {
        if (!(await store.content.has(l.digest))) throw invalidArgument(`layer ${l.digest} of ${rec.id} is not in the content store: pull the image again`);
        await sendKnown(l, id);
        pushed[i] = l;
      } else {
        const known = store.distribution.compressedOf(diffId);
        if (known && (await there(known.digest, id))) {
          pushed[i] = { ...known, mediaType: gzipType };
          await store.distribution.rememberRepo([known.digest], sink.repository);
          continue;
        }
        pushed[i] = { mediaType: gzipType, ...(await sendCompressed(store, sink, l, id, progress)) };
        await store.distribution.rememberCompressed(diffId, pushed[i]);
      }
      await store.distribution.rememberRepo([pushed[i].digest], sink.repository);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 5, Math.max(1, layers.length)) }, worker));
  await sendKnown(manifest.config, short(manifest.config.digest)).then(() => store.distribution.rememberRepo([manifest.config.digest], sink.repository));

  const out: Manifest = { ...manifest, layers: pushed };
  const body = Buffer.from(JSON.stringify(out));
  await sink.putManifest(o.tag, manifest.mediaType ?? MediaType.OciManifest, body);
  const digest = sha256(body);
  progress({ status: `${o.tag}: digest: ${digest} size: ${body.length}` });
  return { digest, size: body.length };
}

/** Gzips a layer as it streams to the registry; returns what was sent. */
async function sendCompressed(store: ImageStore, sink: BlobSink, layer: Descriptor, id: string, progress: (e: PullEvent) => void): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const src = counted(await store.content.stream(layer.digest), (n) => progress({ id, status: 'Pushing', current: n, total: layer.size }));
  const gz = createGzip({ level: 6 });
  src.on('error', (e) => hasher.destroy(e));
  gz.on('error', (e) => hasher.destroy(e));
  src.pipe(gz).pipe(hasher);
  let digest: Digest | undefined;
  await sink.stream(hasher, () => (digest ??= 'sha256:' + hash.digest('hex')));
  progress({ id, status: 'Pushed' });
  return { digest: digest!, size };
}

/** The stream, reporting bytes read every 512 KiB. */
function counted(src: Readable, report: (n: number) => void): Readable {
  let n = 0;
  let last = 0;
  const out = src.pipe(
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        n += chunk.length;
        if (n - last >= 512 << 10) {
          last = n;
          report(n);
        }
        cb(null, chunk);
      },
    }),
  );
  src.on('error', (e) => out.destroy(e));
  return out;
}
