import * as path from 'node:path';

/**
 * Syscalls Node lacks, from the project's small native addon
 * (native/berth_sys.c). Errors carry `code` like fs errors do.
 */
interface Native {
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount(target: string, flags: number): void;
  mknod(file: string, mode: number, major: number, minor: number): void;
  lsetxattr(file: string, name: string, value: Buffer): void;
  lgetxattr(file: string, name: string): Buffer | null;
  llistxattr(file: string): string[];
  seqpacketConnect(file: string, shutRead: boolean): number;
  shutdownWrite(fd: number): void;
}

let native: Native | undefined;
function sys(): Native {
  // Loaded on first use so that commands which never mount stay fast.
  native ??= require(path.join(__dirname, '../../../native/build/Release/berth_sys.node')) as Native;
  return native;
}

export const MS_RDONLY = 0x1;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MNT_DETACH = 0x2;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export const mount = (source: string, target: string, fstype: string, flags: number, data = '') =>
  sys().mount(source, target, fstype, flags, data);
export const umount = (target: string, flags = 0) => sys().umount(target, flags);
export const mknod = (file: string, mode: number, major = 0, minor = 0) => sys().mknod(file, mode, major, minor);
export const lsetxattr = (file: string, name: string, value: Buffer) => sys().lsetxattr(file, name, value);
export const lgetxattr = (file: string, name: string) => sys().lgetxattr(file, name);
export const llistxattr = (file: string) => sys().llistxattr(file);
/** Connects to a SOCK_SEQPACKET unix socket; returns a non-blocking fd (write-only with shutRead). */
export const seqpacketConnect = (file: string, shutRead = false) => sys().seqpacketConnect(file, shutRead);
export const shutdownWrite = (fd: number) => sys().shutdownWrite(fd);
