import * as fsp from 'node:fs/promises';
import { isErrno } from '../base/errors';
import { MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, mount, umount } from '../base/linux';
import type { Mount } from './snapshotter';

/** Performs snapshot mounts at a target folder (the only place that mounts them). */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  // A file is a mount point too (a bind of one file): only a missing target is made, as a folder.
  await fsp.mkdir(target, { recursive: true }).catch((e) => {
    if (!isErrno(e, 'EEXIST')) throw e;
  });
  for (const m of mounts) {
    if (m.type === 'bind') {
      mount(m.source, target, '', MS_BIND | (m.options.includes('rbind') ? MS_REC : 0));
      if (m.options.includes('ro')) mount('', target, '', MS_BIND | MS_RDONLY | 0x20 /* MS_REMOUNT */);
    } else {
      mount(m.source, target, m.type, 0, m.options.join(','));
    }
  }
}

/** Unmounts everything stacked at target; absent mounts are not an error. */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 16; i++) {
    try {
      umount(target, MNT_DETACH);
    } catch (e) {
      if (isErrno(e, 'EINVAL') || isErrno(e, 'ENOENT')) return;
      throw e;
    }
  }
}
