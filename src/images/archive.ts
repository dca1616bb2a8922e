import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, invalidArgument } from '../base/errors';
import type { BlobInfo } from '../content/store';
import { digestHex } from '../oci/digest';
import type { ImageConfig } from '../oci/image';
import { MediaType } from '../oci/image';
import { familiarString, parseReference } from '../oci/reference';
import { chainIds, type ImageRecord, type ImageStore } from './store';
import { createImage, decompressed } from './importer';

/** One entry of a docker-archive's manifest.json. */
interface ArchiveEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

const SMALL_FILE = 4 * 1024 * 1024;
const SMALL_TOTAL = 64 * 1024 * 1024;

/**
 * `docker load`: reads a docker-archive tar stream (docker 20.10's
 * `<id>/layer.tar` layout and the OCI-layout one of newer docker alike,
 * both described by manifest.json). Large files stream into the content
 * store as they arrive; small ones (configs, manifest.json) are kept in
 * memory, bounded. Returns the images loaded and the names they got.
 */
export async function loadArchive(images: ImageStore, src: Readable): Promise<{ image: ImageRecord; tags: string[] }[]> {
  const small = new Map<string, Buffer>();
  const blobs = new Map<string, BlobInfo>();
  const links = new Map<string, string>();
  let smallTotal = 0;
  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const name = path.posix.normalize(h.name).replace(/^\.\//, '');
      if (h.type === 'symlink') {
        links.set(name, path.posix.normalize(path.posix.join(path.posix.dirname(name), h.linkname ?? '')));
      } else if (h.type === 'file' && (h.size ?? 0) <= SMALL_FILE && !name.endsWith('layer.tar') && smallTotal < SMALL_TOTAL) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const buf = Buffer.concat(chunks);
        smallTotal += buf.length;
        small.set(name, buf);
        continue;
      } else if (h.type === 'file') {
        // Unreferenced big files are left to image gc, like any dangling blob.
        const info = await images.content.ingest(decompressed(entry as unknown as Readable));
        blobs.set(name, info);
        continue;
      }
      entry.resume();
    }
  })();
  await Promise.all([pipeline(src, extract), consume]).catch((e) => {
    // tar-stream's complaints (input cut short, not a tar) are plain errors; the store's and the system's carry a code.
    const notTar = e instanceof Error && !(e instanceof BerthError) && !('code' in e);
    throw notTar ? invalidArgument(`invalid archive: ${e.message} (docker load reads a tar file, as docker save writes)`) : e;
  });

  const resolve = (p: string) => {
    let n = path.posix.normalize(p);
    for (let i = 0; i < 16 && links.has(n); i++) n = links.get(n)!;
    return n;
  };
  const manifestJson = small.get('manifest.json');
  if (!manifestJson) throw invalidArgument('invalid archive: manifest.json not found (is this a docker save archive?)');
  let entries: ArchiveEntry[];
  try {
    entries = JSON.parse(manifestJson.toString('utf8'));
  } catch {
    throw invalidArgument('invalid archive: manifest.json is not JSON');
  }
  const out: { image: ImageRecord; tags: string[] }[] = [];
  for (const e of entries) {
    const configBuf = small.get(resolve(e.Config)) ?? (blobs.has(resolve(e.Config)) ? await images.content.read(blobs.get(resolve(e.Config))!.digest) : undefined);
    if (!configBuf) throw invalidArgument(`invalid archive: config ${e.Config} missing`);
    const config = JSON.parse(configBuf.toString('utf8')) as ImageConfig;
    const layers: BlobInfo[] = [];
    for (const l of e.Layers) {
      const key = resolve(l);
      let info = blobs.get(key);
      if (!info && small.has(key)) {
        info = await images.content.put(small.get(key)!);
        blobs.set(key, info);
      }
      if (!info) throw invalidArgument(`invalid archive: layer ${l} missing`);
      layers.push(info);
    }
    // Layers are stored decompressed, so each blob's digest is its diff id.
    if (layers.length !== config.rootfs?.diff_ids?.length)
      throw invalidArgument('invalid archive: layer count does not match the config');
    layers.forEach((l, i) => {
      if (l.digest !== config.rootfs.diff_ids[i])
        throw invalidArgument(`invalid archive: layer ${e.Layers[i]} has digest ${l.digest}, config expects ${config.rootfs.diff_ids[i]}`);
    });
    const tags = e.RepoTags ?? [];
    const image = await createImage(images, config, layers.map((l) => ({ ...l, mediaType: MediaType.DockerLayer })), tags);
    out.push({ image, tags });
  }
  return out;
}

/**
 * `docker save`: writes the docker 20.10 archive layout, which both old and
 * new docker load. Layers shared by several images are written once.
 */
export async function saveArchive(
  images: ImageStore,
  wanted: { image: ImageRecord; tags: string[] }[],
  out: NodeJS.WritableStream,
): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const manifest: ArchiveEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const written = new Set<string>();
  const mtime = new Date(0);
  const addFile = (name: string, data: string | Buffer) =>
    new Promise<void>((res, rej) => pack.entry({ name, mtime, mode: 0o644 }, data, (e) => (e ? rej(e) : res())));
  try {
    for (const { image, tags } of wanted) {
      const m = await images.manifest(image.id);
      const configBuf = await images.content.read(m.config.digest);
      const config = JSON.parse(configBuf.toString('utf8')) as ImageConfig;
      const configName = `${digestHex(m.config.digest)}.json`;
      if (!written.has(configName)) await addFile(configName, configBuf);
      written.add(configName);
      const chains = chainIds(config.rootfs.diff_ids);
      const layerNames: string[] = [];
      for (let i = 0; i < m.layers.length; i++) {
        const dir = digestHex(chains[i]);
        layerNames.push(`${dir}/layer.tar`);
        if (written.has(dir)) continue;
        written.add(dir);
        await new Promise<void>((res, rej) => pack.entry({ name: `${dir}/`, type: 'directory', mtime, mode: 0o755 }, (e) => (e ? rej(e) : res())));
        await addFile(`${dir}/VERSION`, '1.0');
        await addFile(`${dir}/json`, JSON.stringify({ id: dir, ...(i > 0 ? { parent: digestHex(chains[i - 1]) } : {}) }));
        const info = (await images.content.info(m.layers[i].digest))!;
        const stream = pack.entry({ name: `${dir}/layer.tar`, size: info.size, mtime, mode: 0o644 });
        await pipeline(await images.content.stream(m.layers[i].digest), stream);
      }
      const repoTags = tags.map((t) => familiarString(parseReference(t)));
      manifest.push({ Config: configName, RepoTags: repoTags.length ? repoTags : null, Layers: layerNames });
      for (const t of tags) {
        const r = parseReference(t);
        const repo = familiarString({ ...r, tag: undefined });
        repositories[repo] = { ...repositories[repo], [r.tag ?? 'latest']: digestHex(chains[chains.length - 1] ?? image.id) };
      }
    }
    await addFile('manifest.json', JSON.stringify(manifest));
    if (Object.keys(repositories).length) await addFile('repositories', JSON.stringify(repositories));
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
  }
  await done;
}
