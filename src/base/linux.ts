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
  attachOpen(file: string): AttachConnection;
  attachWrite(c: AttachConnection, b: Buffer): number;
  attachEnd(c: AttachConnection): void;
  attachClose(c: AttachConnection): void;
  spawn(file: string, argv: string[], env: string[], cwd: string, stdio: string, setsid: boolean): Promise<{ pid: number; fds: number[] }>;
  reap(pid: number): boolean;
  exitStatus(pid: number): { code: number | null; signal: number | null } | null;
  injectBinds(pid: number, sources: string[], targets: string[]): number;
}

/** A client connection to conmon's attach socket, owned by the addon (see attachOpen). */
export type AttachConnection = { readonly __attach: unique symbol };

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
/**
 * Connects to conmon's attach socket (SOCK_SEQPACKET). What conmon sends back
 * is drained and dropped by the addon so that conmon never blocks on it.
 */
export const attachOpen = (file: string) => sys().attachOpen(file);
/** Sends one message without blocking: the bytes sent, or -1 when the socket is full. */
export const attachWrite = (c: AttachConnection, b: Buffer) => sys().attachWrite(c, b);
/** Half-closes: conmon reads EOF and closes the container's stdin. */
export const attachEnd = (c: AttachConnection) => sys().attachEnd(c);
export const attachClose = (c: AttachConnection) => sys().attachClose(c);

/**
 * Starts a program in a session of its own without copying the daemon's
 * page tables (posix_spawn; Node's spawn forks, a few ms for a daemon of
 * 100 MB): stdin and stdout on /dev/null, and a pipe per letter of `pipes`
 * on fds 2, 3, ...: `w` the child writes, `r` it reads. Resolves with the
 * parent's ends, the spawn done on a libuv worker (it waits there for the
 * child's exec). The caller reaps the child (reap).
 */
export async function spawnDetached(file: string, argv: string[], env: Record<string, string | undefined>, cwd: string, pipes: string): Promise<{ pid: number; fds: number[] }> {
  const child = await sys().spawn(file, argv, envList(env), cwd, `--${pipes}`, true);
  return { pid: child.pid, fds: child.fds.slice(2) };
}

/**
 * Starts a program as posix_spawn does (see spawnDetached), in the daemon's
 * session: one letter of `stdio` per fd from 0, '-' /dev/null, 'w' a pipe
 * the child writes, 'r' one it reads; the parent's ends in `fds` (-1 for
 * '-'). A file without a slash is found in PATH. The caller reaps the child
 * (exitStatus).
 */
export const spawnPiped = (file: string, argv: string[], env: Record<string, string | undefined>, stdio: string) =>
  sys().spawn(file, argv, envList(env), '', stdio, false);

/** waitpid without blocking: null while the child runs; once reaped, its exit code or the signal that ended it. */
export const exitStatus = (pid: number) => sys().exitStatus(pid);

const envList = (env: Record<string, string | undefined>) => Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
/** waitpid without blocking: true once the child is reaped (or not ours). */
export const reap = (pid: number) => sys().reap(pid);
/**
 * Binds host paths over paths in the mount namespace of process `pid` (a
 * container's), replacing what is mounted there; throws with the errno of
 * the step that failed. Needs nothing of the container's (no binary).
 */
export function injectBinds(pid: number, binds: { source: string; target: string }[]): void {
  const err = sys().injectBinds(pid, binds.map((b) => b.source), binds.map((b) => b.target));
  if (err) throw Object.assign(new Error(`inject binds into ${pid}: errno ${err}`), { errno: err });
}
