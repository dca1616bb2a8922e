import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { conflict, isErrno, notFound } from '../base/errors';
import { atomicWriteJson, diskUsage, fsyncDir, mkdirp, readJsonIfExists } from '../base/files';
import { KeyedLock } from '../base/keyed-lock';
import { hasVdisk, makeVdisk, mountVdisk, unmountVdisk, vdiskMountPoint } from './vdisk';

/** How to mount a snapshot; performing it is mount.ts's job. */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

export type SnapshotKind = 'committed' | 'active' | 'view';

export interface SnapshotInfo {
  name: string;
  kind: SnapshotKind;
  parent?: string;
  created: string;
  labels?: Record<string, string>;
  /** An active snapshot's size limit in bytes: its upper folder lives on a vdisk of that size. */
  size?: number;
}

/**
 * Overlay snapshots, after containerd's snapshotter: a committed snapshot is
 * a read-only layer named by its chain id; an active one is a writable upper
 * over a parent chain (a container's rootfs, or a layer being unpacked).
 * Each lives in snapshots/<hash of name>/{fs,work,info.json}; info.json is
 * written last, so a crash mid-prepare (or mid-commit) leaves an orphan
 * without whole info that open() removes.
 */
export class OverlaySnapshotter {
  /** Commits to one name, one at a time: two builds that make the same layer at once must not both rename into it. */
  private readonly commits = new KeyedLock();

  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<OverlaySnapshotter> {
    await mkdirp(root, 0o700);
    const s = new OverlaySnapshotter(root);
    for (const dir of await fsp.readdir(root)) {
      const full = path.join(root, dir);
      const info = await s.infoIn(dir);
      if (!info) {
        await unmountVdisk(full);
        await fsp.rm(full, { recursive: true, force: true });
      } else if (info.size) {
        // After a reboot the vdisk is a file only: mounted again, so the layer is where it was.
        await mountVdisk(full);
      }
    }
    return s;
  }

  /**
   * The info of the snapshot in a folder, if whole: written, and in the folder
   * its name hashes to. A commit cut between its info write and its rename
   * leaves a folder whose info names another folder.
   */
  private async infoIn(dir: string): Promise<SnapshotInfo | undefined> {
    const info = await readJsonIfExists<SnapshotInfo>(path.join(this.root, dir, 'info.json'));
    return info && this.dir(info.name) === path.join(this.root, dir) ? info : undefined;
  }

  private dir(name: string): string {
    return path.join(this.root, createHash('sha256').update(name).digest('hex').slice(0, 32));
  }

  /** The folder where an active snapshot's changes (or a layer being applied) live: on its vdisk when it is sized. */
  upperDir(name: string): string {
    return path.join(this.layerRoot(name), 'fs');
  }

  /** Where a snapshot's fs and work folders are: its own folder, or its mounted vdisk. */
  private layerRoot(name: string): string {
    const dir = this.dir(name);
    return hasVdisk(dir) ? vdiskMountPoint(dir) : dir;
  }

  async stat(name: string): Promise<SnapshotInfo | undefined> {
    return readJsonIfExists<SnapshotInfo>(path.join(this.dir(name), 'info.json'));
  }

  async exists(name: string): Promise<boolean> {
    return (await this.stat(name)) !== undefined;
  }

  private async mustStat(name: string): Promise<SnapshotInfo> {
    const info = await this.stat(name);
    if (!info) throw notFound(`snapshot ${name}: not found`);
    return info;
  }

  /** Parent chain of `name`, nearest first, including `name` itself. */
  private async chain(name: string): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    let cur: string | undefined = name;
    while (cur) {
      const info = await this.mustStat(cur);
      out.push(info);
      cur = info.parent;
    }
    return out;
  }

  /** A writable snapshot over `parent`; with `size`, its changes are held to that many bytes (a vdisk). */
  async prepare(name: string, parent: string | undefined, labels?: Record<string, string>, o: { size?: number } = {}): Promise<Mount[]> {
    return this.create(name, parent, 'active', labels, o.size);
  }

  async view(name: string, parent: string): Promise<Mount[]> {
    return this.create(name, parent, 'view');
  }

  private async create(name: string, parent: string | undefined, kind: SnapshotKind, labels?: Record<string, string>, size?: number): Promise<Mount[]> {
    if (await this.exists(name)) throw conflict(`snapshot ${name}: already exists`);
    if (parent) {
      const p = await this.mustStat(parent);
      if (p.kind !== 'committed') throw conflict(`snapshot ${parent}: parent is not committed`);
    }
    const dir = this.dir(name);
    await unmountVdisk(dir);
    await fsp.rm(dir, { recursive: true, force: true });
    if (size) {
      await mkdirp(dir);
      try {
        await makeVdisk(dir, size);
      } catch (e) {
        await unmountVdisk(dir);
        await fsp.rm(dir, { recursive: true, force: true });
        throw e;
      }
    } else {
      await mkdirp(path.join(dir, 'fs'));
      await mkdirp(path.join(dir, 'work'));
    }
    const info: SnapshotInfo = { name, kind, parent, created: new Date().toISOString(), labels, ...(size ? { size } : {}) };
    await atomicWriteJson(path.join(dir, 'info.json'), info);
    return this.mounts(name);
  }

  /**
   * Turns an active snapshot into a committed one called `name`. `parent`
   * sets another parent than the one it was prepared on: an upper folder
   * holds only its own changes, so a layer unpacked on its own (in parallel
   * with those below it) is stacked where it belongs when committed.
   */
  commit(name: string, activeName: string, o: { parent?: string } = {}): Promise<void> {
    return this.commits.run(name, () => this.commitLocked(name, activeName, o));
  }

  private async commitLocked(name: string, activeName: string, o: { parent?: string }): Promise<void> {
    const active = await this.mustStat(activeName);
    if (active.kind !== 'active') throw conflict(`snapshot ${activeName}: not active`);
    if (active.size) throw conflict(`snapshot ${activeName}: a sized layer cannot become a committed one (its folder is a vdisk)`);
    if (await this.exists(name)) {
      // Another unpack of the same layer won the race: keep theirs.
      await this.remove(activeName);
      return;
    }
    const from = this.dir(activeName);
    const to = this.dir(name);
    await fsp.rm(to, { recursive: true, force: true });
    await atomicWriteJson(path.join(from, 'info.json'), { ...active, name, kind: 'committed', ...('parent' in o ? { parent: o.parent } : {}) });
    await fsp.rename(from, to);
    await fsyncDir(this.root);
  }

  /**
   * A read-only view of an active snapshot as it stands, its own upper folder
   * over its parents (an overlay of lower folders only is read-only): for
   * reading a container's files without its writable mount.
   */
  async frozenMounts(name: string): Promise<Mount[]> {
    const layers = [this.upperDir(name), ...(await this.lowerDirs(name))];
    if (layers.length === 1) return [{ type: 'bind', source: layers[0], options: ['ro', 'rbind'] }];
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${layers.join(':')}`] }];
  }

  /** The upper folders of a snapshot's parents, nearest first: what its own upper folder changes. */
  async lowerDirs(name: string): Promise<string[]> {
    const [, ...parents] = await this.chain(name);
    return parents.map((p) => this.upperDir(p.name));
  }

  async mounts(name: string): Promise<Mount[]> {
    const [self, ...parents] = await this.chain(name);
    const lowers = parents.map((p) => this.upperDir(p.name));
    if (self.kind === 'committed' || self.kind === 'view') {
      const layers = self.kind === 'committed' ? [this.upperDir(name), ...lowers] : lowers;
      if (layers.length === 1) return [{ type: 'bind', source: layers[0], options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${layers.join(':')}`] }];
    }
    const root = this.layerRoot(name);
    if (lowers.length === 0) return [{ type: 'bind', source: path.join(root, 'fs'), options: ['rw', 'rbind'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`index=off`, `lowerdir=${lowers.join(':')}`, `upperdir=${path.join(root, 'fs')}`, `workdir=${path.join(root, 'work')}`],
      },
    ];
  }

  async remove(name: string): Promise<void> {
    const dir = this.dir(name);
    // Remove info first so a crash mid-removal leaves an orphan open() cleans.
    try {
      await fsp.unlink(path.join(dir, 'info.json'));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw notFound(`snapshot ${name}: not found`);
      throw e;
    }
    await unmountVdisk(dir);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const dir of await fsp.readdir(this.root)) {
      const info = await this.infoIn(dir);
      if (info) out.push(info);
    }
    return out;
  }

  async usage(name: string): Promise<{ size: number; inodes: number }> {
    return diskUsage(this.upperDir(name));
  }
}
