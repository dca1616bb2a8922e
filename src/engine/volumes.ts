import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { conflict, invalidArgument, isErrno, notFound } from '../base/errors';
import { atomicWriteJson, diskUsage, mkdirp, readJsonIfExists } from '../base/files';
import type { Finding } from '../base/finding';
import { newId } from '../base/ids';

/** A local volume as the Engine API shows it. */
export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
}

/** On disk, a volume made by a container's create stays pending until that container's record is saved. */
type VolumeRecord = Volume & { pendingFor?: string };

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Named local volumes: volumes/<name>/_data, described by volumes/<name>/volume.json. */
export class VolumeStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<VolumeStore> {
    await mkdirp(root, 0o701);
    return new VolumeStore(root);
  }

  private dir(name: string) {
    return path.join(this.root, name);
  }

  private async record(name: string): Promise<VolumeRecord | undefined> {
    if (!NAME.test(name)) return undefined;
    return readJsonIfExists<VolumeRecord>(path.join(this.dir(name), 'volume.json'));
  }

  async get(name: string): Promise<Volume | undefined> {
    const r = await this.record(name);
    if (!r) return undefined;
    const { pendingFor: _, ...v } = r;
    return v;
  }

  async inspect(name: string): Promise<Volume> {
    const v = await this.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  /**
   * Creates a volume; an existing one with that name is returned as it is
   * (as docker does). One made for a container being created is pending
   * until commit(): a crash in between leaves it for check() to remove.
   */
  async create(name: string | undefined, labels: Record<string, string> = {}, options: Record<string, string> = {}, pendingFor?: string): Promise<Volume & { created: boolean }> {
    const anonymous = !name;
    const n = name || newId();
    if (!NAME.test(n)) throw invalidArgument(`create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    if (Object.keys(options).length) throw invalidArgument(`create ${n}: local volume options are not supported yet: ${Object.keys(options).join(', ')}`);
    const existing = await this.get(n);
    if (existing) return { ...existing, created: false };
    const dir = this.dir(n);
    await mkdirp(path.join(dir, '_data'));
    const v: Volume = {
      Name: n, Driver: 'local', Mountpoint: path.join(dir, '_data'), CreatedAt: new Date().toISOString(),
      Labels: anonymous ? { ...labels, [ANONYMOUS_LABEL]: '' } : labels, Options: options, Scope: 'local',
    };
    await atomicWriteJson(path.join(dir, 'volume.json'), pendingFor ? { ...v, pendingFor } : v);
    return { ...v, created: true };
  }

  /** The container a pending volume was made for has been saved. */
  async commit(name: string): Promise<void> {
    const r = await this.record(name);
    if (!r?.pendingFor) return;
    const { pendingFor: _, ...v } = r;
    await atomicWriteJson(path.join(this.dir(name), 'volume.json'), v);
  }

  /**
   * Folders that are not volumes, and pending volumes: removed when their
   * container was never saved, committed when it was. `container` says
   * whether an id is saved, being created, or unknown.
   */
  async check(container: (id: string) => 'saved' | 'creating' | 'unknown', users: (name: string) => string[]): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const n of await fsp.readdir(this.root)) {
      const r = await this.record(n);
      if (!r) {
        out.push({ kind: 'volume-folder', subject: path.join(this.root, n), detail: 'a folder without volume.json', repair: () => fsp.rm(this.dir(n), { recursive: true, force: true }) });
        continue;
      }
      if (!r.pendingFor) continue;
      // In use by any container counts as saved: a named volume may have been taken up by another create meanwhile.
      const state = users(n).length ? 'saved' : container(r.pendingFor);
      if (state === 'unknown') out.push({ kind: 'volume', subject: n, detail: `made for container ${r.pendingFor}, which was never created`, repair: () => this.remove(n, []) });
      if (state === 'saved') out.push({ kind: 'volume', subject: n, detail: `in use but still marked pending for container ${r.pendingFor}`, repair: () => this.commit(n) });
    }
    return out;
  }

  async list(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const n of await fsp.readdir(this.root)) {
      const v = await this.get(n);
      if (v) out.push(v);
    }
    return out;
  }

  /** Removes a volume; `usedBy` lists containers that still mount it. */
  async remove(name: string, usedBy: string[]): Promise<void> {
    await this.inspect(name);
    if (usedBy.length) throw conflict(`remove ${name}: volume is in use - [${usedBy.join(', ')}]`);
    // The description goes first, so a crash leaves a folder that is not a volume.
    await fsp.unlink(path.join(this.dir(name), 'volume.json')).catch((e) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
    await fsp.rm(this.dir(name), { recursive: true, force: true });
  }

  async usage(name: string): Promise<number> {
    return (await diskUsage(path.join(this.dir(name), '_data'))).size;
  }
}
