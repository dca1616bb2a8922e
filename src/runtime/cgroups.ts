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

/** One block I/O counter of one device, as docker's blkio_stats lists them (op: Read, Write, ... on v1; read, write on v2). */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CgroupStats {
  /** `stat` is memory.stat whole, as docker passes it on (clients subtract its inactive file pages from the usage). */
  memory: { usage: number; limit: number; maxUsage?: number; cache?: number; failcnt?: number; stat: Record<string, number> };
  cpu: { usageNs: number; systemNs?: number; userNs?: number; throttledPeriods?: number };
  pids: { current: number; limit?: number };
  blkio: { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] };
}

/** v1's `8:0 Read 4096` lines (the Total line left out, as docker leaves it). */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  return (text ?? '').split('\n').flatMap((l) => {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(l.trim());
    return m ? [{ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) }] : [];
  });
}

/** v2's io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`) as docker shows it: bytes and operations, read and write. */
export function parseIoStatV2(text: string | undefined): CgroupStats['blkio'] {
  const out: CgroupStats['blkio'] = { serviceBytes: [], serviced: [] };
  for (const l of (text ?? '').split('\n')) {
    const [dev, ...kv] = l.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const v = Object.fromEntries(kv.map((x) => x.split('=')).map(([k, n]) => [k, Number(n)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    out.serviceBytes.push({ ...at, op: 'read', value: v.rbytes ?? 0 }, { ...at, op: 'write', value: v.wbytes ?? 0 });
    out.serviced.push({ ...at, op: 'read', value: v.rios ?? 0 }, { ...at, op: 'write', value: v.wios ?? 0 });
  }
  return out;
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
 * On cgroup v1, kernels since 6.10 count a cgroup's block I/O
 * (blkio.throttle.io_service_bytes) only on disks where a throttle rule was
 * once set: until then every container's block I/O reads 0, in Berth's
 * stats as in docker's. A rule of 0 (no limit) for the data root's disk, on
 * the daemon's own cgroup parent, turns the counting on and limits nothing.
 * Returns the disk (MAJ:MIN) it was done for, or undefined when there is
 * none (v2, no blkio hierarchy, a data root on no block device).
 */
export async function countBlockIo(cgroupParent: string, dataRoot: string): Promise<string | undefined> {
  if (cgroupVersion() === 2 || !existsSync(path.join(ROOT, 'blkio'))) return undefined;
  const disk = await wholeDiskOf(dataRoot);
  if (!disk) return undefined;
  const dir = path.join(ROOT, 'blkio', cgroupParent);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'blkio.throttle.read_bps_device'), `${disk} 0\n`);
  return disk;
}

/** The whole disk (MAJ:MIN) a path's filesystem lives on, from sysfs; undefined for a filesystem on no block device. */
async function wholeDiskOf(p: string): Promise<string | undefined> {
  const dev = (await fsp.stat(p, { bigint: true })).dev;
  // dev_t as glibc encodes it.
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(sys)) return undefined;
  // A partition's folder sits in its disk's: the disk's own `dev` names it.
  const real = await fsp.realpath(sys);
  const disk = existsSync(path.join(real, 'partition')) ? path.dirname(real) : real;
  return (await fsp.readFile(path.join(disk, 'dev'), 'utf8')).trim();
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
          stat: mem,
        },
        cpu: { usageNs: (cpu.usage_usec ?? 0) * 1000, userNs: (cpu.user_usec ?? 0) * 1000, systemNs: (cpu.system_usec ?? 0) * 1000, throttledPeriods: cpu.nr_throttled },
        pids: { current: num(await readText(path.join(d, 'pids.current'))) ?? 0, limit: num(await readText(path.join(d, 'pids.max'))) },
        blkio: parseIoStatV2(await readText(path.join(d, 'io.stat'))),
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
        stat: mem,
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
      // The throttle counters exist with any I/O scheduler (the proportional ones only with BFQ).
      blkio: {
        serviceBytes: parseBlkioV1(await readText(path.join(this.dir('blkio'), 'blkio.throttle.io_service_bytes_recursive'))),
        serviced: parseBlkioV1(await readText(path.join(this.dir('blkio'), 'blkio.throttle.io_serviced_recursive'))),
      },
    };
  }

  /**
   * The two counters load is measured by, read cheaply (no stats whole):
   * CPU time used so far, and memory in use less the page cache the kernel
   * may take back (inactive file pages, as docker's clients count it).
   */
  async usage(): Promise<{ cpuNs: number; memoryBytes: number }> {
    if (this.version === 2) {
      const d = this.dir('');
      const cpu = keyed(await readText(path.join(d, 'cpu.stat')));
      const mem = keyed(await readText(path.join(d, 'memory.stat')));
      return { cpuNs: (cpu.usage_usec ?? 0) * 1000, memoryBytes: Math.max(0, (num(await readText(path.join(d, 'memory.current'))) ?? 0) - (mem.inactive_file ?? 0)) };
    }
    const m = this.dir('memory');
    const mem = keyed(await readText(path.join(m, 'memory.stat')));
    return {
      cpuNs: num(await readText(path.join(this.dir('cpuacct'), 'cpuacct.usage'))) ?? 0,
      memoryBytes: Math.max(0, (num(await readText(path.join(m, 'memory.usage_in_bytes'))) ?? 0) - (mem.total_inactive_file ?? 0)),
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
