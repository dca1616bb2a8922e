import * as fs from 'node:fs';
import * as path from 'node:path';

/** A program's path on $PATH (or the usual system folders), as the shell would find it. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}
