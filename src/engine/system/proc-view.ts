import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../../base/errors';
import { mkdirp, readFileIfExists } from '../../base/files';
import { injectBinds, MNT_DETACH, umount } from '../../base/linux';
import type { Logger } from '../../base/log';
import type { Mount } from '../../oci/runtime-spec';
import { processAlive } from '../../base/procs';

/** The files lxcfs serves and where they go in a container (LXD's and lxcfs's own hooks bind the same). */
export const VIEW_FILES = ['proc/cpuinfo', 'proc/diskstats', 'proc/loadavg', 'proc/meminfo', 'proc/stat', 'proc/swaps', 'proc/uptime', 'sys/devices/system/cpu/online'];

/** How often lxcfs is looked at; a dead one is started again and its views put back. */
const SUPERVISE_MS = 1000;

export type ProcViewState = 'lxcfs' | 'off' | 'missing';

/**
 * /proc and /sys files that show a container its own limits (memory,
 * CPUs, uptime, load), served by Debian's lxcfs, which the daemon starts
 * under its exec root and supervises. lxcfs outlives a daemon restart (the
 * containers' views need it); a new daemon adopts it. When lxcfs dies, it
 * is started again and every running container gets its views bound anew
 * in its own mount namespace (the old binds would answer ENOTCONN).
 */
export class ProcView {
  private timer?: NodeJS.Timeout;
  private pid = 0;
  private healing = false;
  /** After failed starts, the next try waits longer (1 s doubling, at most a minute): a host without FUSE is not retried every second. */
  private failures = 0;
  private nextTry = 0;
  /** The view files this lxcfs serves (its version's), read once it serves: each look is a round trip through FUSE. */
  private served?: string[];

  constructor(
    private readonly root: string,
    private readonly lxcfsPath: string | undefined,
    private readonly wanted: boolean,
    private readonly logger: Logger,
    /** The pids of running containers that have the views. */
    private readonly viewers: () => number[],
  ) {}

  get mountPoint(): string {
    return path.join(this.root, 'mnt');
  }

  private get pidFile(): string {
    return path.join(this.root, 'lxcfs.pid');
  }

  get state(): ProcViewState {
    if (!this.wanted) return 'off';
    return this.lxcfsPath ? 'lxcfs' : 'missing';
  }

  /** Starts lxcfs, or adopts the one a previous daemon left; then watches it. */
  async open(): Promise<void> {
    if (this.state !== 'lxcfs') return;
    const pid = Number((await readFileIfExists(this.pidFile))?.trim()) || 0;
    if (pid && isLxcfs(pid) && this.serving()) this.pid = pid;
    else await this.restart(true);
    this.served = this.files();
    this.timer = setInterval(() => void this.supervise(), SUPERVISE_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The mounts a new container gets; none when lxcfs does not serve (the container sees the host's files). */
  mounts(): Mount[] {
    if (this.state !== 'lxcfs' || !this.serving()) return [];
    return (this.served ??= this.files()).map((f) => ({ destination: `/${f}`, type: 'bind', source: path.join(this.mountPoint, f), options: ['rbind', 'ro'] }));
  }

  private files(): string[] {
    return VIEW_FILES.filter((f) => fs.existsSync(path.join(this.mountPoint, f)));
  }

  /** lxcfs answers at its mount point (a dead one leaves ENOTCONN there). */
  private serving(): boolean {
    try {
      fs.statSync(path.join(this.mountPoint, 'proc', 'meminfo'));
      return true;
    } catch {
      return false;
    }
  }

  private async supervise(): Promise<void> {
    if (this.healing || (this.pid && processAlive(this.pid) && this.serving()) || Date.now() < this.nextTry) return;
    this.healing = true;
    try {
      this.logger.warn('lxcfs is gone: starting it again and binding the views of running containers anew', { pid: this.pid });
      await this.restart(false);
      this.served = this.files();
      this.failures = 0;
      for (const pid of this.viewers()) {
        try {
          injectBinds(pid, this.served.map((f) => ({ source: path.join(this.mountPoint, f), target: `/${f}` })));
        } catch (e) {
          this.logger.warn('views of a running container', { pid, error: errorMessage(e) });
        }
      }
    } catch (e) {
      this.failures++;
      this.nextTry = Date.now() + Math.min(60_000, 1000 * 2 ** Math.min(this.failures - 1, 6));
      this.logger.error('lxcfs restart', { error: errorMessage(e), nextTryInMs: this.nextTry - Date.now() });
    } finally {
      this.healing = false;
    }
  }

  /** A fresh lxcfs at the mount point (a dead one's mount taken off first); resolves once it serves. */
  private async restart(first: boolean): Promise<void> {
    // A dead lxcfs's mount answers ENOTCONN to everything, a mkdir of it too: off it comes first.
    try {
      umount(this.mountPoint, MNT_DETACH);
    } catch {
      /* nothing mounted */
    }
    await mkdirp(this.mountPoint, 0o755);
    if (this.pid && processAlive(this.pid)) process.kill(this.pid, 'SIGKILL');
    const log = fs.openSync(path.join(this.root, 'lxcfs.log'), 'a');
    // -l: loadavg per container; --enable-cfs: cpuinfo and stat follow the CPU quota, not only the cpuset.
    const child = spawn(this.lxcfsPath!, ['-f', '-l', '--enable-cfs', '-p', this.pidFile, this.mountPoint], { detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.unref();
    this.pid = child.pid ?? 0;
    for (let i = 0; i < 200 && !this.serving(); i++) await new Promise((r) => setTimeout(r, 25));
    if (!this.serving()) throw new Error(`lxcfs did not come up at ${this.mountPoint} (see ${path.join(this.root, 'lxcfs.log')})`);
    if (first) this.logger.info('lxcfs serves the containers\' /proc views', { pid: this.pid, mountPoint: this.mountPoint });
  }
}

function isLxcfs(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'lxcfs';
  } catch {
    return false;
  }
}
