import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostProcesses, mountPoints } from '../src/base/procs';

/**
 * What the host shows of containers: mounts, cgroup folders, processes.
 * Shared by the integration tests' leak checks and the benchmarks' cleanup.
 */

export function mountsUnder(dir: string): string[] {
  return mountPoints().filter((m) => m.startsWith(dir));
}

/** The cgroup folders at `parent` and below, in every hierarchy (v1) or the one (v2); parents first. */
export function cgroupDirs(parent: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    out.push(d);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  for (const base of ['/sys/fs/cgroup', ...fs.readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c))]) {
    const dir = path.join(base, parent);
    if (fs.existsSync(dir) && !out.includes(dir)) walk(dir);
  }
  return out;
}

export interface HostProcess {
  pid: number;
  comm: string;
  /** The argv joined by spaces. */
  cmdline: string;
}

export function processes(): HostProcess[] {
  return hostProcesses().map((p) => {
    let comm = '';
    try {
      comm = fs.readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim();
    } catch {
      /* gone */
    }
    return { pid: p.pid, comm, cmdline: p.argv.join(' ') };
  });
}
