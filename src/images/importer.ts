import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { hostPlatform, type ContainerConfig, type ImageConfig, type Manifest, MediaType } from '../oci/image';
import type { ImageRecord, ImageStore, Lineage } from './store';

/** Returns the tar inside a stream that may or may not be gzip-compressed. */
export function decompressed(src: Readable): Readable {
  const out = new PassThrough();
  let decided = false;
  src.once('error', (e) => out.destroy(e));
  src.on('readable', function decide() {
    if (decided) return;
    const head: Buffer | null = src.read();
    if (head === null) return;
    decided = true;
    src.off('readable', decide);
    src.unshift(head);
    if (head[0] === 0x1f && head[1] === 0x8b) {
      const gunzip = createGunzip();
      gunzip.once('error', (e) => out.destroy(e));
      src.pipe(gunzip).pipe(out);
    } else src.pipe(out);
  });
  src.once('end', () => {
    if (!decided) out.end();
  });
  return out;
}

/** Puts a config and manifest for existing layer blobs into the store and creates the image. */
export async function createImage(
  images: ImageStore,
  config: ImageConfig,
  layers: { digest: string; size: number; mediaType?: string }[],
  names: string[] = [],
  lineage: Lineage = {},
): Promise<ImageRecord> {
  const cfg = await images.content.put(JSON.stringify(config));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType ?? MediaType.DockerLayer, digest: l.digest, size: l.size })),
  };
  const m = await images.content.put(JSON.stringify(manifest));
  return images.create(m.digest, names, lineage);
}

/** `docker import`: one root filesystem tar (plain or gzip) becomes a one-layer image. */
export async function importRootfs(
  images: ImageStore,
  src: Readable,
  opts: { config?: ContainerConfig; message?: string; names?: string[] } = {},
): Promise<ImageRecord> {
  const layer = await images.content.ingest(decompressed(src));
  const now = new Date().toISOString();
  const config: ImageConfig = {
    ...hostPlatform(),
    created: now,
    config: opts.config ?? {},
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created: now, created_by: '', comment: opts.message || 'Imported from -' }],
  };
  return createImage(images, config, [layer], opts.names);
}
