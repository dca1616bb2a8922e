import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Reads the host's /proc and /sys below a root folder: `/` on a real host,
 * a folder of fake files in tests, so that every branch of detection can be
 * exercised on any machine. Reads are synchronous: detection runs once, at
 * daemon start, over a few dozen small files.
 */
export class HostFs {
  constructor(readonly root = '/') {}

  /** The path of a host path under this root. */
  at(p: string): string {
    return path.join(this.root, p);
  }

  exists(p: string): boolean {
    return fs.existsSync(this.at(p));
  }

  /** A file's content without its trailing newline; undefined when it cannot be read. */
  read(p: string): string | undefined {
    try {
      return fs.readFileSync(this.at(p), 'utf8').replace(/\n$/, '');
    } catch {
      return undefined; // absent or unreadable: the feature it tells of is off
    }
  }

  /** Names in a folder; none when it does not exist. */
  list(p: string): string[] {
    try {
      return fs.readdirSync(this.at(p)).sort();
    } catch {
      return [];
    }
  }
}
