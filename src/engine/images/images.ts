import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { conflict, notFound } from '../../base/errors';
import { loadArchive, saveArchive } from '../../images/archive';
import { applyChanges } from '../../builder/changes';
import { importRootfs } from '../../images/importer';
import { imageConfigShape } from '../system/docker-shape';
import type { ImageRecord, ImageStore } from '../../images/store';
import { type Digest, digestHex } from '../../oci/digest';
import { familiarRepository, familiarString, normalize, parseReference } from '../../oci/reference';
import type { ContainerStore } from '../containers/container-store';
import type { EventBus } from '../system/events';
import { labelMatches } from '../system/present';

const familiar = (canonical: string) => familiarString(parseReference(canonical));

function tryNormalize(ref: string): string | undefined {
  try {
    return normalize(ref);
  } catch {
    return undefined;
  }
}

/** Images as the Engine API shows and changes them, aware of the containers that use them. */
export class ImageService {
  constructor(
    readonly store: ImageStore,
    private readonly containers: ContainerStore,
    private readonly events: EventBus,
  ) {}

  async list(o: { all?: boolean; dangling?: boolean; reference?: string[]; labels?: string[] } = {}) {
    const out = [];
    const records = await this.store.list();
    const parents = new Set(records.map((r) => r.parent));
    for (const rec of records) {
      const names = this.store.namesOf(rec.id);
      // As docker: an untagged image a build made others from is intermediate, shown only with --all.
      const intermediate = names.length === 0 && parents.has(rec.id);
      if (intermediate && !o.all) continue;
      if (o.dangling !== undefined && (names.length === 0 && !intermediate) !== o.dangling) continue;
      // With a reference filter only the matching names are shown, as docker does.
      const shown = o.reference?.length ? names.filter((n) => o.reference!.some((pat) => refMatches(pat, n))) : names;
      if (o.reference?.length && !shown.length) continue;
      const cfg = await this.store.config(rec.id);
      const labels = cfg.config?.Labels ?? {};
      if (o.labels?.length && !o.labels.every((l) => labelMatches(labels, l))) continue;
      out.push({
        Id: rec.id,
        ParentId: rec.parent ?? '',
        RepoTags: shown.length ? shown.map(familiar) : ['<none>:<none>'],
        RepoDigests: (rec.repoDigests ?? []).map(familiar),
        Created: Math.floor(Date.parse(rec.created) / 1000),
        Size: rec.size,
        VirtualSize: rec.size,
        SharedSize: -1,
        Labels: labels,
        Containers: -1,
      });
    }
    return out.sort((a, b) => b.Created - a.Created);
  }

  async inspect(ref: string) {
    const rec = await this.store.resolve(ref);
    const cfg = await this.store.config(rec.id);
    const names = this.store.namesOf(rec.id);
    return {
      Id: rec.id,
      RepoTags: names.map(familiar),
      RepoDigests: (rec.repoDigests ?? []).map(familiar),
      Parent: rec.parent ?? '',
      Comment: cfg.history?.[cfg.history.length - 1]?.comment ?? '',
      Created: cfg.created ?? rec.created,
      Container: '',
      ContainerConfig: imageConfigShape(undefined),
      DockerVersion: '',
      Author: cfg.author ?? '',
      Config: imageConfigShape(cfg.config),
      Architecture: cfg.architecture,
      Variant: cfg.variant,
      Os: cfg.os,
      Size: rec.size,
      VirtualSize: rec.size,
      GraphDriver: { Name: 'overlay', Data: await this.graphDriverData(rec.id) },
      RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
      Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    };
  }

  /** overlay's folders of an image's top layer, as docker's overlay2 names them (nothing is merged until a container runs). */
  private async graphDriverData(id: Digest): Promise<Record<string, string>> {
    // Inspect shows what it can: an image whose layers are being removed or are damaged has no folders to show (system check names the damage).
    const top = await this.store.topSnapshot(id).catch(() => undefined);
    if (!top) return {};
    const snaps = this.store.snapshots;
    const lower = await snaps.lowerDirs(top).catch(() => []);
    const upper = snaps.upperDir(top);
    return { ...(lower.length ? { LowerDir: lower.join(':') } : {}), MergedDir: '', UpperDir: upper, WorkDir: path.join(path.dirname(upper), 'work') };
  }

  async history(ref: string) {
    const rec = await this.store.resolve(ref);
    const cfg = await this.store.config(rec.id);
    const hist = cfg.history?.length ? cfg.history : cfg.rootfs.diff_ids.map(() => ({}) as NonNullable<typeof cfg.history>[number]);
    // Each build step added one history entry and made one image: the parent chain names the entries.
    const ids: Digest[] = [];
    for (let cur: ImageRecord | undefined = rec, i = hist.length - 1; cur && i >= 0; i--) {
      ids[i] = cur.id;
      cur = cur.parent ? await this.store.get(cur.parent) : undefined;
    }
    return hist
      .map((h, i) => ({
        Id: ids[i] ?? '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: ids[i] ? this.store.namesOf(ids[i]).map(familiar) : null,
        Size: 0,
        Comment: h.comment ?? '',
      }))
      .reverse();
  }

  async tag(source: string, repo: string, tag?: string): Promise<void> {
    const rec = await this.store.resolve(source);
    const target = tag ? `${repo}:${tag}` : repo;
    await this.store.tag(rec.id, target);
    this.events.publish('image', 'tag', rec.id, { name: familiar(normalize(target)) });
  }

  /**
   * docker rmi: by name, untags (and deletes when it was the last name); by
   * id, deletes. Refuses when containers use the image, unless forced (never
   * for running ones). Layers nothing else uses are freed.
   */
  async remove(ref: string, force = false): Promise<{ Untagged?: string; Deleted?: string }[]> {
    const rec = await this.store.resolve(ref);
    const names = this.store.namesOf(rec.id);
    const short = digestHex(rec.id).slice(0, 12);
    const byName = names.find((n) => n === tryNormalize(ref));
    const users = this.containers.all().filter((c) => c.Image === rec.id);
    const running = users.find((c) => c.State.Running);
    const hasChildren = (await this.store.children(rec.id)).length > 0;
    const out: { Untagged?: string; Deleted?: string }[] = [];
    if (byName) {
      // Another name keeps the image, or containers do (with force), or images built on it: only untag.
      if (names.length > 1 || (users.length && force) || hasChildren || this.store.isPinned(rec.id)) {
        await this.untag(byName, out);
        return out;
      }
      if (users.length) throw conflict(`conflict: unable to remove repository reference "${ref}" (must force) - container ${users[0].Id.slice(0, 12)} is using its referenced image ${short}`);
    } else {
      if (this.store.isPinned(rec.id)) throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by a build in progress`);
      if (hasChildren) throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image has dependent child images`);
      if (names.length > 1 && !force) throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
      if (running) throw conflict(`conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.Id.slice(0, 12)}`);
      if (users.length && !force) throw conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${users[0].Id.slice(0, 12)}`);
    }
    for (const n of names) await this.untag(n, out);
    await this.deleteWithParents(rec, out);
    // Layers under containers stay: their snapshots are parents of the containers' own.
    await this.store.gc();
    return out;
  }

  /**
   * Deletes an image, then, as docker, the build's intermediate images it
   * was made from, as long as nothing else needs them: no name, no other
   * child, no container.
   */
  private async deleteWithParents(rec: ImageRecord, out: { Deleted?: string }[]): Promise<void> {
    const used = new Set(this.containers.all().map((c) => c.Image));
    for (let cur: ImageRecord | undefined = rec; cur; ) {
      await this.store.delete(cur.id);
      out.push({ Deleted: cur.id });
      this.events.publish('image', 'delete', cur.id);
      const parent: ImageRecord | undefined = cur.parent ? await this.store.get(cur.parent) : undefined;
      const free: boolean = !!parent && !this.store.isPinned(parent.id) && !this.store.namesOf(parent.id).length && !used.has(parent.id) && !(await this.store.children(parent.id)).length;
      cur = free ? parent : undefined;
    }
  }

  private async untag(name: string, out: { Untagged?: string }[]): Promise<void> {
    const id = await this.store.untag(name);
    out.push({ Untagged: familiar(name) });
    this.events.publish('image', 'untag', id, { name: familiar(name) });
  }

  async import(src: Readable, o: { repo?: string; tag?: string; changes?: string[]; message?: string }): Promise<ImageRecord> {
    const config = applyChanges({}, o.changes ?? []);
    const names = o.repo ? [o.tag ? `${o.repo}:${o.tag}` : o.repo] : [];
    names.forEach((n) => normalize(n)); // a bad name fails before the upload is read
    const rec = await this.store.gate.shared(() => importRootfs(this.store, src, { config, message: o.message, names }));
    this.events.publish('image', 'import', rec.id);
    return rec;
  }

  async load(src: Readable) {
    const loaded = await this.store.gate.shared(() => loadArchive(this.store, src));
    for (const l of loaded) this.events.publish('image', 'load', l.image.id);
    return loaded;
  }

  /** docker save of names or ids; names are kept in the archive. */
  async save(refs: string[], out: NodeJS.WritableStream): Promise<void> {
    const wanted: { image: ImageRecord; tags: string[] }[] = [];
    for (const ref of refs) {
      const image = await this.store.resolve(ref);
      let tags: string[] = [];
      try {
        const r = parseReference(ref, { defaultTag: false });
        const n = normalize(ref);
        if (this.store.namesOf(image.id).includes(n)) tags = [n];
        else if (!r.tag && !r.digest) tags = this.store.namesOf(image.id).filter((x) => familiarRepository(parseReference(x)) === familiarRepository(r));
      } catch {
        /* an id: no names */
      }
      const existing = wanted.find((w) => w.image.id === image.id);
      if (existing) existing.tags.push(...tags.filter((t) => !existing.tags.includes(t)));
      else wanted.push({ image, tags });
    }
    if (!wanted.length) throw notFound('no images to save');
    await saveArchive(this.store, wanted, out);
    for (const w of wanted) this.events.publish('image', 'save', w.image.id);
  }

  /** image prune: dangling images (all unused with `all`) that no container uses. */
  async prune(all: boolean): Promise<{ ImagesDeleted: { Deleted?: string; Untagged?: string }[]; SpaceReclaimed: number }> {
    const used = new Set(this.containers.all().map((c) => c.Image));
    const deleted: { Deleted?: string; Untagged?: string }[] = [];
    const records = await this.store.list();
    const parents = new Set(records.map((r) => r.parent));
    // Leaves only: an image others were built on goes with the last of them (deleteWithParents).
    for (const rec of records) {
      if (used.has(rec.id) || parents.has(rec.id) || this.store.isPinned(rec.id) || !(await this.store.get(rec.id))) continue;
      const names = this.store.namesOf(rec.id);
      if (names.length && !all) continue;
      for (const n of names) await this.untag(n, deleted);
      await this.deleteWithParents(rec, deleted);
    }
    const freed = await this.store.gc();
    return { ImagesDeleted: deleted, SpaceReclaimed: freed };
  }
}

/** `busybox`, `busybox:*`, `*box` style reference filters. */
function refMatches(pattern: string, canonical: string): boolean {
  const f = familiar(canonical);
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*') + '$');
  const repo = f.replace(/:[^:/]+$/, '');
  return re.test(f) || re.test(repo) || re.test(canonical);
}
