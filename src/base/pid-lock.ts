import * as fs from 'node:fs';
import * as path from 'node:path';
import { conflict, isErrno } from './errors';

/**
 * Claims a folder for one process with a pid file; a live holder means
 * another process owns it. Returns the release.
 */
export function lockFolder(dir: string, file: string, what: string): () => void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const pidFile = path.join(dir, file);
  const holder = lockHolder(pidFile);
  if (holder !== undefined) throw conflict(`${dir} is in use by ${what} pid ${holder}`);
  fs.writeFileSync(pidFile, String(process.pid));
  return () => fs.rmSync(pidFile, { force: true });
}

/** The live process a pid file names, other than this one. */
export function lockHolder(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8'));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
  if (!pid || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    if (isErrno(e, 'ESRCH')) return undefined;
    throw e;
  }
}
