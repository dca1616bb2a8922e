import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { BerthError, conflict, invalidArgument, notFound } from '../base/errors';
import { atomicWriteJson, mkdirp, readJsonIfExists } from '../base/files';
import type { Finding } from '../base/finding';
import { RwGate } from '../base/gate';
import type { ContentStore } from '../content/store';
import { type Digest, isDigest, sha256 } from '../oci/digest';
import { type Descriptor, type ImageConfig, type Manifest, MediaType } from '../oci/image';
import { normalize, parseReference } from '../oci/reference';
import type { OverlaySnapshotter, SnapshotInfo } from '../snapshots/snapshotter';
import { DistributionMetadata } from './distribution-metadata';
import { unpackLayer } from './unpack';

const STALE_INGEST_MS = 24 * 3600 * 1000;

/** An image known to the store; its id is its config's digest, as docker's. */
export interface ImageRecord {
  id: Digest;
  manifest: Descriptor;
  created: string;
  /** Bytes of the unpacked layers. */
  size: number;
  /** The image a build step made this one from (docker's Parent). */
  parent?: Digest;
  /** What that step was (instruction, config, sources): the build cache's key under `parent`. */
  buildKey?: string;
  /** `repository@digest` of the registries it was pulled from or pushed to (docker's RepoDigests). */
  repoDigests?: string[];
}

/** Where a build step's image comes from: its parent and the step's cache key. */
export interface Lineage {
  parent?: Digest;
  buildKey?: string;
}

/** The chain id of each layer, as containerd and docker compute them. */
export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/**
 * Image records (images/<hex>.json), the names that point at them
 * (images/names.json: canonical reference → id), and their unpacked
 * layers. Every change of names goes through one queue so writes never
 * interleave.
 */
export class ImageStore {
  private names: Record<string, Digest> = {};
  /** Images builds in progress stand on: not deleted meanwhile (counted). */
  private readonly pins = new Map<Digest, number>();
  private readonly sizes = new Map<string, number>();
  private cache?: Map<Digest, ImageRecord>;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Writers of content and layers (load, import, a container's rootfs on
   * its image) hold it shared; collection and checks hold it exclusive, so
   * they never take a write in progress for an orphan.
   */
  readonly gate = new RwGate();

  private constructor(
    private readonly root: string,
    readonly content: ContentStore,
    readonly snapshots: OverlaySnapshotter,
    readonly distribution: DistributionMetadata,
  ) {}

  static async open(root: string, content: ContentStore, snapshots: OverlaySnapshotter): Promise<ImageStore> {
    await mkdirp(root);
    const s = new ImageStore(root, content, snapshots, await DistributionMetadata.open(path.join(root, 'distribution.json')));
    s.names = (await readJsonIfExists<Record<string, Digest>>(path.join(root, 'names.json'))) ?? {};
    return s;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined); // the caller hears of the failure through p; the queue goes on
    return p;
  }

  private recordPath(id: Digest): string {
    return path.join(this.root, id.replace('sha256:', '') + '.json');
  }

  async get(id: Digest): Promise<ImageRecord | undefined> {
    return (await this.records()).get(id) ?? readJsonIfExists<ImageRecord>(this.recordPath(id));
  }

  /**
   * The records, read from disk once and then kept as this store writes
   * them: a build looks up its cache at every step.
   */
  private async records(): Promise<Map<Digest, ImageRecord>> {
    this.cache ??= new Map((await this.listOnDisk()).map((r) => [r.id, r]));
    return this.cache;
  }

  private async writeRecord(rec: ImageRecord & { pendingNames?: string[] }): Promise<void> {
    await atomicWriteJson(this.recordPath(rec.id), rec);
    (await this.records()).set(rec.id, rec);
  }

  async list(): Promise<ImageRecord[]> {
    return [...(await this.records()).values()];
  }

  /** The records as the disk holds them (the check compares it with the rest). */
  private async listOnDisk(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const f of await fsp.readdir(this.root)) {
      if (!/^[a-f0-9]{64}\.json$/.test(f)) continue;
      const r = await readJsonIfExists<ImageRecord>(path.join(this.root, f));
      if (r) out.push(r);
    }
    return out;
  }

  /** Names (canonical references) pointing at an image. */
  namesOf(id: Digest): string[] {
    return Object.entries(this.names)
      .filter(([, v]) => v === id)
      .map(([k]) => k)
      .sort();
  }

  /** The tags of a repository (canonical: `docker.io/library/busybox`) that name images here. */
  tagsIn(repository: string): string[] {
    const prefix = `${repository}:`;
    return Object.keys(this.names)
      .filter((k) => k.startsWith(prefix) && !/[/@:]/.test(k.slice(prefix.length)))
      .map((k) => k.slice(prefix.length))
      .sort();
  }

  /**
   * Finds an image by name (`busybox`, `x:1`, `x@sha256:..`), full id, or
   * unique id prefix of at least 4 hex digits.
   */
  async resolve(s: string): Promise<ImageRecord> {
    const idLike = s.startsWith('sha256:') ? s.slice(7) : s;
    if (isDigest(s) || (/^[a-f0-9]{4,64}$/.test(idLike) && !this.nameExists(s))) {
      const hits = (await fsp.readdir(this.root)).filter((f) => f.startsWith(idLike) && f.endsWith('.json') && f.length === 69);
      if (hits.length === 1) return (await this.get('sha256:' + hits[0].slice(0, 64)))!;
      if (hits.length > 1) throw invalidArgument(`image id prefix ${s} is ambiguous`);
      if (isDigest(s)) throw notFound(`No such image: ${s}`);
    }
    // A malformed reference is the caller's error (400), as docker reports it.
    const ref = normalize(s);
    if (parseReference(s).digest) {
      const byDigest = (await this.list()).find((r) => r.repoDigests?.includes(ref));
      if (byDigest) return byDigest;
    }
    const id = this.names[ref];
    const rec = id && (await this.get(id));
    if (!rec) throw notFound(`No such image: ${s}`);
    return rec;
  }

  private nameExists(s: string): boolean {
    try {
      return normalize(s) in this.names;
    } catch {
      return false;
    }
  }

  async config(id: Digest): Promise<ImageConfig> {
    const rec = await this.get(id);
    if (!rec) throw notFound(`No such image: ${id}`);
    const m = await this.content.readJson<Manifest>(rec.manifest.digest);
    return this.content.readJson<ImageConfig>(m.config.digest);
  }

  async manifest(id: Digest): Promise<Manifest> {
    const rec = await this.get(id);
    if (!rec) throw notFound(`No such image: ${id}`);
    return this.content.readJson<Manifest>(rec.manifest.digest);
  }

  /** The image a build step made from `parent` with this key, if it is whole (the build cache's lookup). */
  async findChild(parent: Digest | undefined, buildKey: string): Promise<ImageRecord | undefined> {
    for (const rec of await this.list()) {
      if (rec.buildKey === buildKey && rec.parent === parent && !(await this.missingParts(rec))) return rec;
    }
    return undefined;
  }

  pin(id: Digest): void {
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
  }

  unpin(id: Digest): void {
    const n = (this.pins.get(id) ?? 0) - 1;
    if (n > 0) this.pins.set(id, n);
    else this.pins.delete(id);
  }

  isPinned(id: Digest): boolean {
    return this.pins.has(id);
  }

  /** Images made from this one by a build step. */
  async children(id: Digest): Promise<ImageRecord[]> {
    return (await this.list()).filter((r) => r.parent === id);
  }

  /** Throws what tag() would for a name it cannot take. */
  private checkTag(ref: string): string {
    const name = normalize(ref);
    if (parseReference(ref).digest) throw invalidArgument(`refusing to create a tag with a digest reference`);
    return name;
  }

  /** Points `ref` at an image; returns the id it pointed at before, if any. */
  tag(id: Digest, ref: string): Promise<Digest | undefined> {
    const name = this.checkTag(ref);
    return this.serial(async () => {
      const before = this.names[name];
      this.names = { ...this.names, [name]: id };
      await atomicWriteJson(path.join(this.root, 'names.json'), this.names);
      return before !== id ? before : undefined;
    });
  }

  untag(ref: string): Promise<Digest> {
    const name = normalize(ref);
    return this.serial(async () => {
      const id = this.names[name];
      if (!id) throw notFound(`No such image: ${ref}`);
      const { [name]: _gone, ...rest } = this.names;
      this.names = rest;
      await atomicWriteJson(path.join(this.root, 'names.json'), this.names);
      return id;
    });
  }

  /** Deletes the record (names must be gone); layers are freed by gc(). */
  async delete(id: Digest): Promise<void> {
    if (this.namesOf(id).length > 0) throw conflict(`image ${id} is still tagged`);
    await fsp.rm(this.recordPath(id), { force: true });
    (await this.records()).delete(id);
  }

  /**
   * Creates an image from a manifest whose config and layers are already in
   * the content store: unpacks the layers, then makes the record visible and
   * gives it `names`. A new record carries its names as pending until they
   * are applied, so a crash in between leaves no nameless image: check()
   * applies them.
   */
  async create(manifestDigest: Digest, names: string[] = [], lineage: Lineage = {}, repoDigest?: string): Promise<ImageRecord> {
    for (const n of names) this.checkTag(n);
    const manifest = await this.content.readJson<Manifest>(manifestDigest);
    const config = await this.content.readJson<ImageConfig>(manifest.config.digest);
    if (manifest.layers.length !== config.rootfs.diff_ids.length)
      throw invalidArgument('image: manifest layers and config diff_ids differ in number');
    const size = await this.unpack(manifest, config);
    const rec: ImageRecord = {
      id: manifest.config.digest,
      manifest: { mediaType: manifest.mediaType ?? MediaType.OciManifest, digest: manifestDigest, size: (await this.content.info(manifestDigest))!.size },
      created: config.created ?? new Date().toISOString(),
      size,
      ...lineage,
      ...(repoDigest ? { repoDigests: [repoDigest] } : {}),
    };
    const existing = await this.get(rec.id);
    if (existing) {
      for (const n of names) await this.tag(existing.id, n);
      return repoDigest ? this.addRepoDigest(existing.id, repoDigest) : existing;
    }
    if (!names.length) {
      await this.writeRecord(rec);
      return rec;
    }
    await this.writeRecord({ ...rec, pendingNames: names });
    await this.applyPendingNames(rec.id, names);
    return rec;
  }

  /** Records one more `repository@digest` the image is known by (one per repository: a new push or pull replaces it). */
  addRepoDigest(id: Digest, repoDigest: string): Promise<ImageRecord> {
    return this.serial(async () => {
      const rec = await this.get(id);
      if (!rec) throw notFound(`No such image: ${id}`);
      const repo = repoDigest.slice(0, repoDigest.indexOf('@'));
      const others = (rec.repoDigests ?? []).filter((r) => !r.startsWith(`${repo}@`));
      const next = { ...rec, repoDigests: [...others, repoDigest].sort() };
      await this.writeRecord(next);
      return next;
    });
  }

  private async applyPendingNames(id: Digest, names: string[]): Promise<void> {
    for (const n of names) await this.tag(id, n);
    const { pendingNames: _, ...rec } = (await this.get(id)) as ImageRecord & { pendingNames?: string[] };
    await this.writeRecord(rec);
  }

  /** The committed snapshot holding an image's root filesystem (undefined: no layers). */
  async topSnapshot(id: Digest): Promise<string | undefined> {
    const ids = chainIds((await this.config(id)).rootfs.diff_ids);
    return ids[ids.length - 1];
  }

  private async unpack(manifest: Manifest, config: ImageConfig): Promise<number> {
    const chains = chainIds(config.rootfs.diff_ids);
    let size = 0;
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i];
      if (!(await this.snapshots.exists(chain))) {
        const key = `extract-${chain}-${process.hrtime.bigint()}`;
        await this.snapshots.prepare(key, chains[i - 1]);
        try {
          const diffId = await this.applyBlob(manifest.layers[i], this.snapshots.upperDir(key));
          if (diffId !== config.rootfs.diff_ids[i])
            throw invalidArgument(`layer ${manifest.layers[i].digest}: content ${diffId} does not match diff_id ${config.rootfs.diff_ids[i]}`);
          await this.snapshots.commit(chain, key);
        } catch (e) {
          await this.snapshots.remove(key).catch(() => undefined); // best effort: system check finds what is left
          throw e;
        }
      }
      size += await this.layerSize(chain);
    }
    return size;
  }

  /** Bytes of a committed layer: walked once, as layers never change. */
  private async layerSize(chain: string): Promise<number> {
    let size = this.sizes.get(chain);
    if (size === undefined) {
      size = (await this.snapshots.usage(chain)).size;
      this.sizes.set(chain, size);
    }
    return size;
  }

  /** Applies a layer blob into dir; returns the digest of its uncompressed tar (its diff id). */
  private async applyBlob(layer: Descriptor, dir: string): Promise<Digest> {
    return unpackLayer(await this.content.stream(layer.digest), dir, layer.mediaType);
  }

  /** Removes snapshots and blobs that no image references; returns bytes freed. */
  gc(keepSnapshots: Set<string> = new Set()): Promise<number> {
    return this.gate.exclusive(async () => {
      const { layers, blobs } = await this.unreferenced(keepSnapshots);
      let freed = 0;
      for (const s of layers) {
        freed += (await this.snapshots.usage(s.name)).size;
        await this.snapshots.remove(s.name);
      }
      for (const b of blobs) {
        freed += b.size;
        await this.content.delete(b.digest);
      }
      return freed;
    });
  }

  /**
   * Committed layers no image needs (children before parents) and blobs no
   * image references. Active snapshots belong to containers: a layer under
   * one stays. Images in `forgotten` (broken ones the check removes) count
   * as gone already, so what only they used goes in the same repair.
   */
  private async unreferenced(keepSnapshots: Set<string>, forgotten = new Set<Digest>()) {
    const liveBlobs = new Set<string>();
    const liveSnaps = new Set<string>(keepSnapshots);
    for (const rec of await this.listOnDisk()) {
      if (forgotten.has(rec.id)) continue;
      liveBlobs.add(rec.manifest.digest);
      // A part that is gone leaves the image broken (the check forgets it); one that cannot be read
      // may still be needed, and its layers are unknown: then nothing is collected (the read throws).
      const m = await readIfPresent(() => this.content.readJson<Manifest>(rec.manifest.digest));
      if (!m) continue;
      liveBlobs.add(m.config.digest);
      m.layers.forEach((l) => liveBlobs.add(l.digest));
      const cfg = await readIfPresent(() => this.content.readJson<ImageConfig>(m.config.digest));
      if (cfg) chainIds(cfg.rootfs.diff_ids).forEach((c) => liveSnaps.add(c));
    }
    const layers: SnapshotInfo[] = [];
    let remaining = await this.snapshots.list();
    for (;;) {
      const parents = new Set(remaining.map((s) => s.parent));
      const leaf = remaining.find((s) => s.kind === 'committed' && !liveSnaps.has(s.name) && !parents.has(s.name));
      if (!leaf) break;
      layers.push(leaf);
      remaining = remaining.filter((s) => s !== leaf);
    }
    const blobs = (await this.content.list()).filter((b) => !liveBlobs.has(b.digest));
    return { layers, blobs };
  }

  /**
   * What the image side of the disk holds that nothing accounts for, and
   * records whose parts are gone. `ownsSnapshot` tells which active
   * snapshots belong to containers. Call it holding the gate exclusive.
   */
  async check(ownsSnapshot: (name: string) => boolean): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const w of await this.content.ingests()) {
      // A named write (an interrupted pull's layer) waits a day to be resumed.
      if (w.active || (w.resumable && Date.now() - w.updated.getTime() < STALE_INGEST_MS)) continue;
      out.push({ kind: 'ingest', subject: w.ref, detail: `an unfinished content write of ${w.size} bytes`, repair: () => this.content.removeIngestFolder(w.folder) });
    }
    const broken = new Set<Digest>();
    for (const rec of (await this.listOnDisk()) as (ImageRecord & { pendingNames?: string[] })[]) {
      const pending = rec.pendingNames;
      if (pending) out.push({ kind: 'image', subject: rec.id, detail: `made by a load or import that was cut short; its names are due: ${pending.join(', ')}`, repair: () => this.applyPendingNames(rec.id, pending) });
      const missing = await this.missingParts(rec);
      if (!missing) continue;
      broken.add(rec.id);
      out.push({ kind: 'image', subject: rec.id, detail: `image record without its ${missing}`, repair: () => this.forget(rec.id) });
    }
    for (const [name, id] of Object.entries(this.names)) {
      if (!broken.has(id) && !(await this.get(id))) out.push({ kind: 'name', subject: name, detail: `names image ${id}, which does not exist`, repair: () => this.untag(name).then(() => {}) });
    }
    for (const s of await this.snapshots.list()) {
      if (s.kind !== 'committed' && !ownsSnapshot(s.name)) {
        out.push({ kind: 'snapshot', subject: s.name, detail: `an ${s.kind} snapshot no container owns`, repair: () => this.snapshots.remove(s.name) });
      }
    }
    const { layers, blobs } = await this.unreferenced(new Set(), broken);
    for (const s of layers) out.push({ kind: 'layer', subject: s.name, detail: 'a layer no image uses', repair: () => this.snapshots.remove(s.name) });
    for (const b of blobs) out.push({ kind: 'blob', subject: b.digest, detail: `${b.size} bytes no image references`, repair: () => this.content.delete(b.digest) });
    return out;
  }

  /** The first part an image record needs that is gone, if any. */
  private async missingParts(rec: ImageRecord): Promise<string | undefined> {
    const m = await readIfPresent(() => this.content.readJson<Manifest>(rec.manifest.digest)).catch(() => 'unreadable' as const);
    if (!m || m === 'unreadable') return `manifest ${rec.manifest.digest}${m ? ' (unreadable)' : ''}`;
    const cfg = await readIfPresent(() => this.content.readJson<ImageConfig>(m.config.digest)).catch(() => 'unreadable' as const);
    if (!cfg || cfg === 'unreadable') return `config ${m.config.digest}${cfg ? ' (unreadable)' : ''}`;
    for (const chain of chainIds(cfg.rootfs.diff_ids)) if (!(await this.snapshots.exists(chain))) return `layer ${chain}`;
    return undefined;
  }

  /** Drops a broken image: its names, then its record. */
  private async forget(id: Digest): Promise<void> {
    for (const n of this.namesOf(id)) await this.untag(n);
    await this.delete(id);
  }
}

/** A content read whose blob may be gone (undefined); any other failure, a corrupt blob among them, is thrown. */
async function readIfPresent<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof BerthError && e.code === 'not_found') return undefined;
    throw e;
  }
}
