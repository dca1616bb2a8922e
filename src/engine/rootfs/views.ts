import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Finding } from '../../base/finding';
import { mkdirp, readdirIfExists } from '../../base/files';
import type { Mount } from '../../snapshots/snapshotter';
import { mountAll, unmountAll } from '../../snapshots/mount';

/**
 * Short-lived mounts of containers' snapshots (export, cp of a stopped
 * container) under `<exec root>/views/`. The ones in use are known, so the
 * check takes only what a crash left for an orphan, and never unmounts a view
 * from under a request.
 */
export class Views {
  private readonly active = new Set<string>();

  constructor(private readonly root: string) {}

  /** Mounts at a fresh folder; the returned release unmounts and removes it (once). */
  async open(mounts: Mount[]): Promise<{ dir: string; release: () => Promise<void> }> {
    await mkdirp(this.root, 0o700);
    const dir = await fsp.mkdtemp(path.join(this.root, 'v-'));
    this.active.add(dir);
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= (async () => {
        await unmountAll(dir);
        await fsp.rm(dir, { recursive: true, force: true });
        this.active.delete(dir);
      })());
    try {
      await mountAll(mounts, dir);
    } catch (e) {
      await release();
      throw e;
    }
    return { dir, release };
  }

  /** fn with the mounts at a folder, released after. */
  async with<T>(mounts: Mount[], fn: (dir: string) => Promise<T>): Promise<T> {
    const v = await this.open(mounts);
    try {
      return await fn(v.dir);
    } finally {
      await v.release();
    }
  }

  /** Views no request holds: left by a crash. */
  async check(): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const n of await readdirIfExists(this.root)) {
      const dir = path.join(this.root, n);
      if (this.active.has(dir)) continue;
      out.push({
        kind: 'view', subject: dir, detail: 'a mount of a container for an export or cp that never finished',
        repair: async () => {
          await unmountAll(dir);
          await fsp.rm(dir, { recursive: true, force: true });
        },
      });
    }
    return out;
  }

  /** Whether a mount point is a view's (the check's generic stray-mount search leaves them to check()). */
  owns(mountPoint: string): boolean {
    return mountPoint.startsWith(this.root + '/');
  }
}
