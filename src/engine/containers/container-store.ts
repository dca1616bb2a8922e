import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { conflict, invalidArgument, notFound } from '../../base/errors';
import { atomicWriteJson, mkdirp, readJsonIfExists } from '../../base/files';
import type { ContainerRecord } from '../model';

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Containers by id, with the index of names. Each record lives in
 * containers/<id>/container.json; a folder without one is an orphan of a
 * crashed create and is removed at open.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  /** Each record's write in progress or queued. */
  private readonly writes = new Map<string, Promise<void>>();
  /** Records removed: a late save must not bring one back. */
  private readonly removed = new Set<string>();

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<ContainerStore> {
    await mkdirp(root, 0o710);
    const s = new ContainerStore(root);
    for (const id of await fsp.readdir(root)) {
      const rec = await readJsonIfExists<ContainerRecord>(path.join(root, id, 'container.json'));
      if (!rec) {
        await fsp.rm(path.join(root, id), { recursive: true, force: true });
        continue;
      }
      s.byId.set(rec.Id, rec);
      s.byName.set(rec.Name, rec.Id);
    }
    return s;
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** By full id only. */
  byFullId(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  /** Reserved by a create that has not saved its record yet. */
  isCreating(id: string): boolean {
    return !this.byId.has(id) && [...this.byName.values()].includes(id);
  }

  /** By full id, name (with or without `/`), or unique id prefix, as docker looks containers up. */
  find(ref: string): ContainerRecord | undefined {
    const direct = this.byId.get(ref);
    if (direct) return direct;
    const byName = this.byName.get(ref.startsWith('/') ? ref : `/${ref}`);
    if (byName) return this.byId.get(byName);
    if (/^[a-f0-9]+$/.test(ref)) {
      const hits = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (hits.length > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
      if (hits.length === 1) return this.byId.get(hits[0]);
    }
    return undefined;
  }

  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }

  /** Claims a name for an id; throws docker's conflict message when taken. */
  reserveName(name: string, id: string): string {
    if (!NAME.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const n = name.startsWith('/') ? name : `/${name}`;
    const holder = this.byName.get(n);
    if (holder && holder !== id)
      throw conflict(`Conflict. The container name "${n}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    this.byName.set(n, id);
    return n;
  }

  /** Held by a container or reserved by one being created. */
  nameTaken(name: string): boolean {
    return this.byName.has(name.startsWith('/') ? name : `/${name}`);
  }

  releaseName(name: string, id: string): void {
    if (this.byName.get(name) === id) this.byName.delete(name);
  }

  /**
   * Writes the record as it is when its turn comes: writes of one record go
   * one at a time, in order, so the file never ends older than the last
   * save (the lifecycle and the health monitor both save). A removed
   * record is never written again.
   */
  save(rec: ContainerRecord): Promise<void> {
    const prev = this.writes.get(rec.Id) ?? Promise.resolve();
    // A write that failed was its own caller's failure: the next one still goes.
    const next = prev.catch(() => undefined).then(async () => {
      if (this.removed.has(rec.Id)) return;
      await mkdirp(this.dir(rec.Id), 0o710);
      await atomicWriteJson(path.join(this.dir(rec.Id), 'container.json'), rec);
      this.byId.set(rec.Id, rec);
    });
    this.writes.set(rec.Id, next);
    // The caller hears of a failure through `next`; this is only the queue's bookkeeping.
    void next.finally(() => {
      if (this.writes.get(rec.Id) === next) this.writes.delete(rec.Id);
    }).catch(() => undefined);
    return next;
  }

  async delete(rec: ContainerRecord): Promise<void> {
    // Late saves come from work that was under way at the removal: a minute covers them.
    this.removed.add(rec.Id);
    setTimeout(() => this.removed.delete(rec.Id), 60_000).unref();
    // Waited for, not judged: a last write that failed matters no more once the record goes.
    await this.writes.get(rec.Id)?.catch(() => undefined);
    // The record goes first: a crash mid-removal leaves an orphan folder, never a half container.
    await fsp.rm(path.join(this.dir(rec.Id), 'container.json'), { force: true });
    await fsp.rm(this.dir(rec.Id), { recursive: true, force: true });
    this.byId.delete(rec.Id);
    this.releaseName(rec.Name, rec.Id);
  }
}
