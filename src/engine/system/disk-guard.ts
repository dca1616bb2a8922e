import * as fsp from 'node:fs/promises';
import { BerthError, invalidArgument } from '../../base/errors';
import { parseSize } from '../../base/sizes';

/** The least free room the data root must keep: a share of its size and inodes (`5%`), or a size (`2g`). */
export type MinFree = { fraction: number } | { bytes: number };

export function parseMinFree(s: string): MinFree {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
  if (m) {
    const pct = Number(m[1]);
    if (pct > 100) throw invalidArgument(`--min-free-space ${s}: at most 100%`);
    return { fraction: pct / 100 };
  }
  return { bytes: parseSize(s) };
}

const human = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);

/** Why the room is too little, or undefined when it is enough (pure). */
export function shortOfRoom(st: { bavail: number; blocks: number; bsize: number; ffree: number; files: number }, min: MinFree): string | undefined {
  const free = st.bavail * st.bsize;
  const total = st.blocks * st.bsize;
  const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1)}%`;
  if ('bytes' in min) return free < min.bytes ? `${human(free)} free, below the ${human(min.bytes)} it keeps` : undefined;
  if (free < total * min.fraction) return `${human(free)} free (${pct(free, total)} of ${human(total)}), below the ${pct(min.fraction, 1)} it keeps`;
  // Filesystems without an inode count (btrfs) say 0 files.
  if (st.files > 0 && st.ffree < st.files * min.fraction) return `${st.ffree} inodes free (${pct(st.ffree, st.files)}), below the ${pct(min.fraction, 1)} it keeps`;
  return undefined;
}

/**
 * Refuses work that writes to the data root when it is (nearly) full, as a
 * clear error naming the root and its free room, rather than containers
 * that cannot start or pulls that fail halfway (`--min-free-space`).
 */
export class DiskGuard {
  constructor(
    private readonly dataRoot: string,
    private readonly min: MinFree,
  ) {}

  async ensureRoom(what: string): Promise<void> {
    const why = shortOfRoom(await fsp.statfs(this.dataRoot), this.min);
    if (why) throw new BerthError('insufficient_storage', `${what} refused: the data root ${this.dataRoot} has ${why} (the daemon's --min-free-space); free some space, e.g. with \`system prune\``);
  }
}
