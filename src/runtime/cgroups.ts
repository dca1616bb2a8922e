import { existsSync, readdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isErrno } from '../base/errors';

const ROOT = '/sys/fs/cgroup';
/** Every v1 hierarchy runc may create a cgroup in, and `unified`, the v2 one of a hybrid host. */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'blkio', 'devices', 'freezer', 'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc', 'systemd', 'unified'];

export type CgroupVersion = 1 | 2;

/** v2 when /sys/fs/cgroup is the unified hierarchy; v1 (or hybrid) otherwise. */
export function cgroupVersion(): CgroupVersion {
  return existsSync(path.join(ROOT, 'cgroup.controllers')) ? 2 : 1;
}

export interface CgroupStats {
  memory: { usage: number; limit: number; maxUsage?: number; cache?: number; failcnt?: number };
  cpu: { usageNs: number; systemNs?: number; userNs?: number; throttledPeriods?: number };
  pids: { current: number; limit?: number };
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENODEV') || isErrno(e, 'EINVAL')) return undefined;
    throw e;
  }
}

const num = (s: string | undefined) => (s === undefined || s === 'max' ? undefined : Number(s));

function keyed(s: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (s ?? '').split('\n')) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/**
 * Reads and removes the cgroups that the runtime made at `cgroupsPath`
 * (as given in the spec, e.g. /berth/<id>), hiding the v1/v2 difference.
 */
export class Cgroup {
  constructor(
    readonly cgroupsPath: string,
    readonly version: CgroupVersion = cgroupVersion(),
  ) {}

  private dir(controller: string): string {
    return this.version === 2 ? path.join(ROOT, this.cgroupsPath) : path.join(ROOT, controller, this.cgroupsPath);
  }

  async stats(): Promise<CgroupStats> {
    if (this.version === 2) {
      const d = this.dir('');
      const mem = keyed(await readText(path.join(d, 'memory.stat')));
      const cpu = keyed(await readText(path.join(d, 'cpu.stat')));
      return {
        memory: {
          usage: num(await readText(path.join(d, 'memory.current'))) ?? 0,
          limit: num(await readText(path.join(d, 'memory.max'))) ?? hostMemory(),
          cache: mem.file,
        },
        cpu: { usageNs: (cpu.usage_usec ?? 0) * 1000, userNs: (cpu.user_usec ?? 0) * 1000, systemNs: (cpu.system_usec ?? 0) * 1000, throttledPeriods: cpu.nr_throttled },
        pids: { current: num(await readText(path.join(d, 'pids.current'))) ?? 0, limit: num(await readText(path.join(d, 'pids.max'))) },
      };
    }
    const m = this.dir('memory');
    const mem = keyed(await readText(path.join(m, 'memory.stat')));
    const acct = keyed(await readText(path.join(this.dir('cpuacct'), 'cpuacct.stat')));
    const ticks = 1e9 / 100; // USER_HZ
    const limit = num(await readText(path.join(m, 'memory.limit_in_bytes')));
    return {
      memory: {
        usage: num(await readText(path.join(m, 'memory.usage_in_bytes'))) ?? 0,
        limit: limit === undefined || limit >= 2 ** 62 ? hostMemory() : limit,
        maxUsage: num(await readText(path.join(m, 'memory.max_usage_in_bytes'))),
        cache: mem.cache,
        failcnt: num(await readText(path.join(m, 'memory.failcnt'))),
      },
      cpu: {
        usageNs: num(await readText(path.join(this.dir('cpuacct'), 'cpuacct.usage'))) ?? 0,
        userNs: (acct.user ?? 0) * ticks,
        systemNs: (acct.system ?? 0) * ticks,
        throttledPeriods: keyed(await readText(path.join(this.dir('cpu'), 'cpu.stat'))).nr_throttled,
      },
      pids: {
        current: num(await readText(path.join(this.dir('pids'), 'pids.current'))) ?? 0,
        limit: num(await readText(path.join(this.dir('pids'), 'pids.max'))),
      },
    };
  }

  /** How many processes the kernel's OOM killer took from this cgroup. */
  async oomKills(): Promise<number> {
    const file = this.version === 2 ? path.join(this.dir(''), 'memory.events') : path.join(this.dir('memory'), 'memory.oom_control');
    return keyed(await readText(file)).oom_kill ?? 0;
  }

  /** Folders of this cgroup that exist (for leak checks and cleanup). */
  existing(): string[] {
    const dirs = this.version === 2 ? [this.dir('')] : V1_CONTROLLERS.map((c) => this.dir(c));
    return dirs.filter((d) => existsSync(d));
  }

  /** Names of the cgroups directly under `parent`, in any hierarchy. */
  static children(parent: string, version: CgroupVersion = cgroupVersion()): string[] {
    const bases = version === 2 ? [ROOT] : V1_CONTROLLERS.map((c) => path.join(ROOT, c));
    const names = new Set<string>();
    for (const b of bases) {
      try {
        for (const e of readdirSync(path.join(b, parent), { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
      } catch {
        /* no such hierarchy or parent */
      }
    }
    return [...names];
  }

  /** Removes the (empty) cgroup folders the runtime left, if any. */
  async remove(): Promise<void> {
    for (const d of this.existing()) {
      await fsp.rmdir(d).catch((e) => {
        if (!isErrno(e, 'ENOENT')) throw e;
      });
    }
  }
}

let hostMem: number | undefined;
function hostMemory(): number {
  hostMem ??= require('node:os').totalmem() as number;
  return hostMem;
}
