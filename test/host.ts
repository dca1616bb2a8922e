import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What the host shows of containers: mounts, cgroup folders, processes.
 * Shared by the integration tests' leak checks and the benchmarks' cleanup.
 */

export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(dir));
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
  const out: HostProcess[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const comm = fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      out.push({ pid: Number(p), comm, cmdline });
    } catch {
      /* gone */
    }
  }
  return out;
}
