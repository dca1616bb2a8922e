import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { lstatIfExists } from '../base/files';

/**
 * Removes the mount points a runtime made in an overlay upper folder for
 * these targets: an empty file or folder that no lower layer has, and the
 * parents made only to hold it. What the command itself wrote there stays.
 */
export async function removeMountStubs(upper: string, lowers: string[], targets: string[]): Promise<void> {
  const inLowers = async (rel: string) => (await Promise.all(lowers.map((l) => lstatIfExists(path.join(l, rel))))).some(Boolean);
  // Deepest first, so a parent is empty by the time it is looked at.
  for (const target of [...targets].sort((a, b) => b.length - a.length)) {
    for (let rel = path.posix.normalize(target).replace(/^\/+/, ''); rel && rel !== '.'; rel = path.posix.dirname(rel)) {
      const full = path.join(upper, rel);
      const st = await lstatIfExists(full);
      if (!st || (await inLowers(rel))) break;
      if (st.isDirectory() && (await fsp.readdir(full)).length === 0) await fsp.rmdir(full);
      else if (st.isFile() && st.size === 0) await fsp.unlink(full);
      else break;
    }
  }
}
