import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { run } from '../base/exec';
import { isErrno } from '../base/errors';
import { MNT_DETACH, umount } from '../base/linux';

/**
 * A network namespace kept alive by a bind mount on a file (as `ip netns`
 * does), so that it outlives the container's processes until its
 * interfaces are torn down. util-linux's unshare makes it: a namespace
 * cannot be unshared by one thread of a multi-threaded Node process.
 */
export async function createNetns(file: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fsp.writeFile(file, '', { mode: 0o600 });
  await run('unshare', [`--net=${file}`, 'true']);
}

/** Unmounts and deletes a namespace file; absent is no error. The namespace ends with its last user. */
export async function removeNetns(file: string): Promise<void> {
  try {
    umount(file, MNT_DETACH);
  } catch (e) {
    if (!isErrno(e, 'EINVAL') && !isErrno(e, 'ENOENT')) throw e;
  }
  await fsp.rm(file, { force: true });
}
