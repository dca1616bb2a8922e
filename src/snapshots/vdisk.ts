import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { run } from '../base/exec';
import { isErrno } from '../base/errors';
import { MNT_DETACH, umount } from '../base/linux';

/**
 * A sized writable layer ("vdisk"): a sparse file of the size, formatted
 * ext4 and loop-mounted, holding the snapshot's upper and work folders, so
 * a container that fills it gets ENOSPC and the host's disk is untouched.
 * The way for kernels without xfs or ext4 project quotas (docker's overlay2
 * needs xfs pquota). The file is sparse: it takes what is written, at most
 * its size.
 */
const IMAGE = 'vdisk.img';
const MOUNT = 'vd';

export const vdiskMountPoint = (dir: string) => path.join(dir, MOUNT);

/** Makes, formats and mounts the vdisk of a snapshot folder; undone by removeVdisk. */
export async function makeVdisk(dir: string, size: number): Promise<void> {
  const img = path.join(dir, IMAGE);
  const fh = await fsp.open(img, 'wx', 0o600);
  try {
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
  // No reserved blocks (the container's own layer), no discard at format (the file is sparse already), tables filled lazily.
  await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', img]);
  await mountVdisk(dir);
}

/** Mounts a vdisk that exists (after a reboot unmounted it); a mounted one is left as it is. */
export async function mountVdisk(dir: string): Promise<void> {
  const mnt = vdiskMountPoint(dir);
  if (isMountPoint(mnt)) return;
  await fsp.mkdir(mnt, { recursive: true });
  // The loop device goes with the mount (util-linux sets autoclear).
  await run('mount', ['-t', 'ext4', '-o', 'loop,noatime,nodev', path.join(dir, IMAGE), mnt]);
  await fsp.mkdir(path.join(mnt, 'fs'), { recursive: true });
  await fsp.mkdir(path.join(mnt, 'work'), { recursive: true });
}

/** Unmounts a snapshot folder's vdisk, if it has one mounted (its file goes with the folder). */
export async function unmountVdisk(dir: string): Promise<void> {
  const mnt = vdiskMountPoint(dir);
  // Most snapshots have no vdisk: its folder's absence says so without reading the mount table (long on a busy host).
  if (!fs.existsSync(mnt) || !isMountPoint(mnt)) return;
  try {
    umount(mnt, 0);
  } catch (e) {
    // Still open somewhere (a process reading the layer): detached now, freed with its last user.
    if (!isErrno(e, 'EBUSY')) throw e;
    umount(mnt, MNT_DETACH);
  }
}

export function hasVdisk(dir: string): boolean {
  return fs.existsSync(path.join(dir, IMAGE));
}

/** Whether a path is a mount point, from this process's mount table. */
export function isMountPoint(p: string): boolean {
  const want = path.resolve(p);
  const table = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  // Field 5 is the mount point, with spaces and the like escaped as octal.
  return table.split('\n').some((l) => l.split(' ')[4]?.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))) === want);
}

