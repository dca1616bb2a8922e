import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { diskUsage, readdirIfExists, statIfExists } from '../../base/files';
import { newId } from '../../base/ids';
import { KeyedLock } from '../../base/keyed-lock';
import type { StepMount } from '../../builder/run-step';
import { sha256 } from '../../oci/digest';
import type { MountSpec } from '../model';

export interface PreparedMounts {
  binds: MountSpec[];
  tmpfs: Record<string, string>;
  /** Frees what the step held: its lock on a cache, its private cache, its secret files. Idempotent. */
  release(): Promise<void>;
}

/**
 * The host side of RUN --mount: cache folders kept under the build root
 * between builds (shared, locked one step at a time, or private to a
 * step when another holds it), and secrets as files under the exec root,
 * which is a tmpfs on most hosts, removed when the step ends.
 */
export class StepMounts {
  private readonly locks = new KeyedLock();
  private readonly users = new Map<string, number>();

  constructor(
    private readonly cacheRoot: string,
    private readonly secretsRoot: string,
  ) {}

  async prepare(mounts: StepMount[]): Promise<PreparedMounts> {
    const binds: MountSpec[] = [];
    const tmpfs: Record<string, string> = {};
    const undo: (() => Promise<void>)[] = [];
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      for (const u of undo.reverse()) await u();
    };
    try {
      for (const m of mounts) {
        if (m.type === 'bind') binds.push({ Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readonly });
        // Unlike `run --tmpfs`, a build's tmpfs may hold programs (compilers write and run there).
        else if (m.type === 'tmpfs') tmpfs[m.target] = ['exec', ...(m.size ? [`size=${m.size}`] : [])].join(',');
        else if (m.type === 'secret') {
          const dir = path.join(this.secretsRoot, newId().slice(0, 16));
          await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
          undo.push(() => fsp.rm(dir, { recursive: true, force: true }));
          const file = path.join(dir, 'secret');
          await fsp.writeFile(file, m.data, { mode: m.mode });
          await fsp.chmod(file, m.mode);
          await fsp.chown(file, m.uid, m.gid);
          binds.push({ Type: 'bind', Source: file, Target: m.target, ReadOnly: true });
        } else binds.push({ Type: 'bind', Source: await this.cache(m, undo), Target: m.target, ReadOnly: m.readonly });
      }
      return { binds, tmpfs, release };
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** The folder of a cache mount, held as its sharing says until the step's release. */
  private async cache(m: Extract<StepMount, { type: 'cache' }>, undo: (() => Promise<void>)[]): Promise<string> {
    const key = sha256(m.id).slice(7, 23);
    let dir = path.join(this.cacheRoot, key);
    if (m.sharing === 'locked') {
      let unlock!: () => void;
      const held = new Promise<void>((r) => (unlock = r));
      await new Promise<void>((turn) => void this.locks.run(key, () => (turn(), held)));
      undo.push(async () => unlock());
    } else if (m.sharing === 'private' && (this.users.get(key) ?? 0) > 0) {
      // Another step holds the shared one: this step gets a fresh cache of its own, dropped after.
      dir = path.join(this.cacheRoot, `${key}-private-${newId().slice(0, 12)}`);
      undo.push(() => fsp.rm(dir, { recursive: true, force: true }));
    }
    this.users.set(key, (this.users.get(key) ?? 0) + 1);
    undo.push(async () => {
      const n = (this.users.get(key) ?? 1) - 1;
      if (n) this.users.set(key, n);
      else this.users.delete(key);
    });
    if (!(await statIfExists(dir))) {
      await fsp.mkdir(this.cacheRoot, { recursive: true, mode: 0o700 });
      await fsp.mkdir(dir, { mode: m.mode });
      await fsp.chmod(dir, m.mode);
      await fsp.chown(dir, m.uid, m.gid);
    }
    return dir;
  }

  /** Removes every cache no step holds; returns the bytes freed and the caches removed. */
  async prune(): Promise<{ removed: string[]; bytes: number }> {
    const removed: string[] = [];
    let bytes = 0;
    for (const name of await readdirIfExists(this.cacheRoot)) {
      if (this.users.has(name.slice(0, 16))) continue;
      const dir = path.join(this.cacheRoot, name);
      bytes += (await diskUsage(dir)).size;
      await fsp.rm(dir, { recursive: true, force: true });
      removed.push(name);
    }
    return { removed, bytes };
  }
}
