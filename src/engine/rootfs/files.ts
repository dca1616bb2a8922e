import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, invalidArgument, isErrno, notFound } from '../../base/errors';
import type { ImageStore } from '../../images/store';
import { applyLayer } from '../../snapshots/apply';
import { mountAll } from '../../snapshots/mount';
import { packPath } from '../../snapshots/diff';
import { resolveIn } from '../../base/in-root';
import type { ContainerService } from '../containers/containers';
import type { ContainerRecord } from '../model';
import type { Views } from './views';
import { lstatIfExists, statIfExists } from '../../base/files';

/** Docker's container path stat (the X-Docker-Container-Path-Stat header), Mode in Go's FileMode bits. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;
/** docker cp: the files of a container, running or not, read and written through the Engine API's archive endpoints. */
export class ContainerFiles {
  constructor(
    private readonly containers: ContainerService,
    private readonly images: ImageStore,
    private readonly views: Views,
  ) {}

  /**
   * Runs fn with the container's root filesystem: a running one's as its
   * process sees it (through /proc/<pid>/root, so its volumes, binds and
   * /etc/hosts are there too), else a view of its snapshot for the time of fn
   * (read-only unless writing; a write holds the container's lock so it
   * cannot start meanwhile).
   */
  private async withRoot<T>(c: ContainerRecord, write: boolean, fn: (root: string) => Promise<T>): Promise<T> {
    if (c.State.Running && c.State.Pid) return fn(`/proc/${c.State.Pid}/root`);
    const snaps = this.images.snapshots;
    const extra = await this.mountsAsAtRun(c);
    // A read-only view serves a read when every mount point is in the image; else the container's layer is
    // mounted (under its lock, so it cannot start meanwhile) and the missing ones are made there, as docker makes them.
    const frozen = !write && (await this.views.with(await snaps.frozenMounts(c.Id), async (root) => (await this.missingMountPoints(root, extra)).length === 0));
    const mounted = async () =>
      this.views.with(frozen ? await snaps.frozenMounts(c.Id) : await snaps.mounts(c.Id), async (root) => {
        for (const m of await this.missingMountPoints(root, extra)) {
          if (m.dir) await fsp.mkdir(m.at, { recursive: true });
          else await fsp.mkdir(path.dirname(m.at), { recursive: true }).then(() => fsp.writeFile(m.at, ''));
        }
        for (const m of extra) await mountAll([{ type: 'bind', source: m.source, options: ['rbind', ...(write && m.rw ? [] : ['ro'])] }], await resolveIn(root, m.dest, true));
        return fn(root);
      });
    return frozen ? mounted() : this.containers.whileLocked(c.Id, mounted);
  }

  /**
   * What a stopped container's process would see over its root, as dockerd
   * mounts it for cp: its volumes and binds, and once it has run, its
   * /etc/hosts, /etc/hostname and /etc/resolv.conf (a container that never
   * ran shows the empty placeholders of its layer). Released with the view,
   * whose unmount detaches what is stacked below it.
   */
  private async mountsAsAtRun(c: ContainerRecord): Promise<{ source: string; dest: string; rw: boolean; dir: boolean }[]> {
    const dir = this.containers.store.dir(c.Id);
    const etc = ['hosts', 'hostname', 'resolv.conf'].map((f) => ({ source: path.join(dir, f), dest: `/etc/${f}`, rw: false }));
    const volumes = c.Mounts.filter((m) => m.Type !== 'tmpfs').map((m) => ({ source: m.Source, dest: m.Destination, rw: m.RW }));
    const out = [];
    for (const m of [...etc, ...volumes]) {
      const st = await statIfExists(m.source);
      if (st) out.push({ ...m, dir: st.isDirectory() }); // else never started (no /etc files yet), or a bind whose source is gone
    }
    return out;
  }

  private async missingMountPoints(root: string, mounts: { dest: string; dir: boolean }[]): Promise<{ at: string; dir: boolean }[]> {
    const out = [];
    for (const m of mounts) {
      const at = await resolveIn(root, m.dest, true);
      if (!(await lstatIfExists(at))) out.push({ at, dir: m.dir });
    }
    return out;
  }

  private async statAt(host: string, p: string): Promise<PathStat> {
    const st = await fsp.lstat(host).catch((e) => {
      throw isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') ? notFound(`Could not find the file ${p} in container`) : e;
    });
    const link = st.isSymbolicLink() ? await fsp.readlink(host) : '';
    return {
      name: path.basename(host) || '/',
      size: st.size,
      mode: (st.mode & 0o7777) + (st.isDirectory() ? GO_MODE_DIR : 0) + (st.isSymbolicLink() ? GO_MODE_SYMLINK : 0),
      mtime: st.mtime.toISOString(),
      linkTarget: link,
    };
  }

  async stat(ref: string, p: string): Promise<PathStat> {
    const c = this.containers.store.get(ref);
    return this.withRoot(c, false, async (root) => this.statAt(await resolveIn(root, p), p));
  }

  /** The path as a tar whose entries start with its name; the stream must be read to its end (or destroyed). */
  async get(ref: string, p: string): Promise<{ stat: PathStat; stream: Readable }> {
    const c = this.containers.store.get(ref);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ready = new Promise<{ stat: PathStat; stream: Readable }>((resolve, reject) => {
      this.withRoot(c, false, async (root) => {
        const host = await resolveIn(root, p);
        const stat = await this.statAt(host, p);
        const stream = packPath(path.dirname(host), path.basename(host));
        stream.once('close', release);
        resolve({ stat, stream });
        await held; // the mount stays until the tar is read
      }).catch(reject);
    });
    return ready;
  }

  /** Unpacks a tar into the folder `p` of the container; owned by root unless the archive's owners are kept. */
  async put(ref: string, p: string, src: Readable, o: { copyUIDGID?: boolean } = {}): Promise<void> {
    const c = this.containers.store.get(ref);
    if (c.HostConfig.ReadonlyRootfs) throw new BerthError('forbidden', 'container rootfs is marked read-only');
    await this.withRoot(c, true, async (root) => {
      const host = await resolveIn(root, p, true);
      const st = await lstatIfExists(host);
      if (!st) throw notFound(`Could not find the file ${p} in container`);
      if (!st.isDirectory()) throw invalidArgument(`extraction point is not a directory: ${p}`);
      await applyLayer(path.normalize(host), src, { whiteouts: false, owner: o.copyUIDGID ? undefined : { uid: 0, gid: 0 } });
    });
  }
}
