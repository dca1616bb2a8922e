import * as fs from 'node:fs';
import { invalidArgument } from '../../base/errors';
import type { HostFeatures } from '../../host/features';
import { cpuListWithin, parseCpuList } from '../../host/cpu-list';
import { rateLimits } from '../../host/report';
import { checkBandwidth } from '../../base/rates';
import { parseSize } from '../../base/sizes';
import type { BlockDevice, LinuxResources } from '../../oci/runtime-spec';
import type { HostConfig, ThrottleDevice } from '../model';

const MIN_MEMORY = 6 * 1024 * 1024;
const RESTART_POLICIES = ['', 'no', 'always', 'on-failure', 'unless-stopped'];

/** A block device's numbers by its path; undefined when the path is not a block device. */
export type DeviceLookup = (path: string) => BlockDevice | undefined;

export function blockDeviceOf(p: string): BlockDevice | undefined {
  try {
    const st = fs.statSync(p, { bigint: true });
    if (!st.isBlockDevice()) return undefined;
    // Linux's dev_t: 12 bits of major and 20 of minor, split as new_encode_dev splits them.
    const r = st.rdev;
    return { major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)) };
  } catch {
    return undefined; // no such path: the caller names it in its error
  }
}

const THROTTLES = [
  ['BlkioDeviceReadBps', 'readBps', 'BPS Block I/O read limit', 'Block I/O BPS read limit'],
  ['BlkioDeviceWriteBps', 'writeBps', 'BPS Block I/O write limit', 'Block I/O BPS write limit'],
  ['BlkioDeviceReadIOps', 'readIops', 'IOPS Block read limit', 'Block I/O IOPS read limit'],
  ['BlkioDeviceWriteIOps', 'writeIops', 'IOPS Block write limit', 'Block I/O IOPS write limit'],
] as const;

/**
 * Fits a HostConfig to what the host offers, as dockerd's
 * verifyPlatformContainerResources does, in its order: an option the host
 * lacks is discarded with docker's warning (the returned config holds the
 * value in force, which inspect shows); a value that can never work is
 * refused with docker's message. `update` checks a `docker update` body.
 */
export function adaptHostConfig(input: HostConfig, f: HostFeatures, o: { update?: boolean; device?: DeviceLookup } = {}): { host: HostConfig; warnings: string[] } {
  const h: HostConfig = { ...input };
  const warnings: string[] = [];
  const c = f.cgroups;
  const discard = (w: string, apply: () => void) => {
    warnings.push(w);
    apply();
  };
  const set = (v: number | null | undefined): v is number => v !== undefined && v !== null && v !== -1;

  // memory
  if (h.Memory && h.Memory > 0 && h.Memory < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (h.Memory && h.Memory > 0 && !c.memory.limit)
    discard('Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.', () => ((h.Memory = 0), (h.MemorySwap = -1)));
  if (h.Memory && h.Memory > 0 && h.MemorySwap !== -1 && !c.memory.swap)
    discard('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.', () => (h.MemorySwap = -1));
  if (h.Memory && h.Memory > 0 && h.MemorySwap && h.MemorySwap > 0 && h.MemorySwap < h.Memory) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (!h.Memory && h.MemorySwap && h.MemorySwap > 0 && !o.update) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (set(h.MemorySwappiness) && !c.memory.swappiness)
    discard('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.', () => (h.MemorySwappiness = null));
  if (set(h.MemorySwappiness) && (h.MemorySwappiness < 0 || h.MemorySwappiness > 100)) throw invalidArgument(`Invalid value: ${h.MemorySwappiness}, valid memory swappiness range is 0-100`);
  if (h.MemoryReservation && h.MemoryReservation > 0 && !c.memory.reservation)
    discard('Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.', () => (h.MemoryReservation = 0));
  if (h.MemoryReservation && h.MemoryReservation > 0 && h.MemoryReservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if (h.Memory && h.Memory > 0 && h.MemoryReservation && h.MemoryReservation > h.Memory)
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (h.KernelMemory && h.KernelMemory > 0) {
    warnings.push('Specifying a kernel memory limit is deprecated and will be removed in a future release.');
    // Linux ignores kernel memory limits since 6.1 and runc 1.1 ignores them everywhere: never in force.
    discard('Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.', () => (h.KernelMemory = 0));
  }
  if (h.KernelMemoryTCP && h.KernelMemoryTCP > 0 && !c.memory.kernelTcp)
    discard('Your kernel does not support kernel memory TCP limit capabilities or the cgroup is not mounted. Limitation discarded.', () => (h.KernelMemoryTCP = 0));
  if (h.OomKillDisable !== undefined && h.OomKillDisable !== null && !c.memory.oomKillDisable) {
    // Only a wish for it to be off gets a warning: off is what the host gives anyway.
    if (h.OomKillDisable) warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    h.OomKillDisable = null;
  }
  if (h.OomKillDisable && !h.Memory) warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  if (h.PidsLimit !== undefined && h.PidsLimit !== null && !c.pids) {
    if (h.PidsLimit > 0) warnings.push('Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.');
    h.PidsLimit = null;
  }

  // cpu
  if (h.NanoCpus && h.NanoCpus > 0 && h.CpuPeriod && h.CpuPeriod > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (h.NanoCpus && h.NanoCpus > 0 && h.CpuQuota && h.CpuQuota > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (h.NanoCpus && h.NanoCpus > 0 && !c.cpu.cfsQuota) throw invalidArgument('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
  if (h.NanoCpus && (h.NanoCpus < 0 || h.NanoCpus > f.cpus * 1e9)) throw invalidArgument(`Range of CPUs is from 0.01 to ${f.cpus}.00, as there are only ${f.cpus} CPUs available`);
  if (h.CpuShares !== undefined && h.CpuShares < 0) throw invalidArgument('invalid CPU shares: must be positive');
  if (h.CpuShares && h.CpuShares > 0 && !c.cpu.shares) discard('Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.', () => (h.CpuShares = 0));
  if ((h.CpuPeriod || h.CpuQuota) && !c.cpu.cfsQuota) discard('Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.', () => ((h.CpuPeriod = 0), (h.CpuQuota = 0)));
  if (h.CpuPeriod && (h.CpuPeriod < 1000 || h.CpuPeriod > 1_000_000)) throw invalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (h.CpuQuota && h.CpuQuota > 0 && h.CpuQuota < 1000) throw invalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  // Real-time budgets need one given to the daemon's cgroup parent first (dockerd's --cpu-rt-runtime); Berth has none to give.
  if ((h.CpuRealtimePeriod || h.CpuRealtimeRuntime) && !c.cpu.realtime) throw invalidArgument('Your kernel does not support cgroup cpu real-time period');
  if (h.CpuRealtimePeriod || h.CpuRealtimeRuntime) throw invalidArgument('CPU real-time scheduling (--cpu-rt-period, --cpu-rt-runtime) is not supported by Berth');

  // cpuset
  if ((h.CpusetCpus || h.CpusetMems) && !c.cpuset.enabled)
    discard('Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.', () => ((h.CpusetCpus = ''), (h.CpusetMems = '')));
  checkCpuList(h.CpusetCpus, c.cpuset.cpus, 'cpus', 'CPUs');
  checkCpuList(h.CpusetMems, c.cpuset.mems, 'mems', 'memory nodes');

  // blkio
  if (h.BlkioWeight && h.BlkioWeight > 0 && !c.blkio.weight) discard('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.', () => (h.BlkioWeight = 0));
  if (h.BlkioWeight && (h.BlkioWeight < 10 || h.BlkioWeight > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if (h.BlkioWeightDevice?.length && !c.blkio.weightDevice)
    discard('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.', () => (h.BlkioWeightDevice = []));
  for (const [key, feature, what, limit] of THROTTLES) {
    if (h[key]?.length && !c.blkio[feature]) discard(`Your kernel does not support ${what} or the cgroup is not mounted. ${limit} discarded.`, () => (h[key] = []));
  }
  const device = o.device ?? blockDeviceOf;
  for (const d of h.BlkioWeightDevice ?? []) {
    if (!Number.isInteger(d.Weight) || d.Weight < 0 || (d.Weight > 0 && d.Weight < 10) || d.Weight > 1000) throw invalidArgument(`invalid weight for device: ${d.Path}:${d.Weight}`);
    mustBeBlockDevice(d.Path, device);
  }
  for (const [key] of THROTTLES) {
    for (const d of h[key] ?? []) {
      if (!Number.isInteger(d.Rate) || d.Rate < 0) throw invalidArgument(`invalid rate for device: ${d.Path}:${d.Rate}`);
      mustBeBlockDevice(d.Path, device);
    }
  }

  // Berth's own: network rate limits, with the tc parts they need.
  const rates = rateLimits(f);
  if (h.NetworkIngressRate && !rates.ingress) discard('Your kernel does not support network ingress rate limits (tc tbf). Network ingress rate discarded.', () => (h.NetworkIngressRate = 0));
  if (h.NetworkEgressRate && !rates.egress) discard('Your kernel does not support network egress rate limits (tc tbf, ingress, ifb, mirred). Network egress rate discarded.', () => (h.NetworkEgressRate = 0));

  // docker's default, set when a container is made: swap as large again as the memory.
  if (!o.update && h.Memory && h.Memory > 0 && !h.MemorySwap) h.MemorySwap = h.Memory * 2;
  return { host: h, warnings };
}

function checkCpuList(requested: string | undefined, available: string, name: string, things: string): void {
  if (!requested) return;
  const avail = parseCpuList(available) ?? new Set<number>();
  const want = parseCpuList(requested, Math.max(8192, ...avail));
  if (!want) throw invalidArgument(`Invalid value ${requested} for cpuset ${name}: invalid format: ${requested}`);
  if (!cpuListWithin(want, avail)) throw invalidArgument(`Requested ${things} are not available - requested ${requested}, available: ${available}`);
}

function mustBeBlockDevice(p: string, device: DeviceLookup): void {
  if (!p.startsWith('/')) throw invalidArgument(`${p} is not an absolute path`);
  if (!device(p)) throw invalidArgument(`${p} is not a block device`);
}

/**
 * Refuses, before anything is made, a container this host could not start:
 * what it asks needs a part the host lacks and cannot be left out without
 * changing what the container is.
 */
export function refuseUnrunnable(h: HostConfig, f: HostFeatures, o: { runtime: string; init: boolean; initBinary: boolean; publishes: boolean }): void {
  if (o.runtime === 'crun' && f.cgroups.hybridControllers.length)
    throw invalidArgument(`runtime crun cannot run containers on this host: crun refuses cgroup v1 beside a v2 hierarchy with controllers (${f.cgroups.hybridControllers.join(', ')}); use runc`);
  if (o.init && !o.initBinary) throw invalidArgument('--init needs tini-static (Debian package tini), which is not installed');
  const seccomp = (h.SecurityOpt ?? []).find((s) => /^seccomp[=:]/.test(s));
  if (!f.security.seccomp && seccomp && !/^seccomp[=:](unconfined|default)$/.test(seccomp))
    throw invalidArgument('Seccomp is not enabled in your kernel, cannot run a custom seccomp profile.');
  if (o.publishes && !(f.net.iptables.dnat && f.net.iptables.masquerade))
    throw invalidArgument(`published ports need iptables NAT (DNAT and MASQUERADE), which this host lacks${f.net.error ? `: ${f.net.error}` : ''}`);
}

/** The least a sized writable layer may be: an ext4 with room for its journal and some files. */
export const MIN_LAYER_SIZE = 16 * 1024 * 1024;

/** The writable layer's size from --storage-opt (undefined: unlimited); docker's messages for what it refuses. */
export function layerSize(h: HostConfig): number | undefined {
  let size: number | undefined;
  for (const [k, v] of Object.entries(h.StorageOpt ?? {})) {
    if (k.toLowerCase() !== 'size') throw invalidArgument(`Unknown option ${k}`);
    try {
      size = parseSize(v);
    } catch {
      throw invalidArgument(`invalid storage-opt size ${JSON.stringify(v)}: a size such as 10G or 512m`);
    }
    if (size < MIN_LAYER_SIZE) throw invalidArgument(`invalid storage-opt size ${v}: a writable layer cannot be smaller than 16MiB`);
  }
  return size;
}

/** Checks what docker's daemon checks of a HostConfig besides resources. */
export function validateHostConfig(h: HostConfig): void {
  if (h.ShmSize !== undefined && h.ShmSize < 0) throw invalidArgument('SHM size can not be less than 0');
  if (h.OomScoreAdj !== undefined && (h.OomScoreAdj < -1000 || h.OomScoreAdj > 1000))
    throw invalidArgument(`Invalid value ${h.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  const rp = h.RestartPolicy?.Name ?? '';
  if (!RESTART_POLICIES.includes(rp)) throw invalidArgument(`invalid restart policy '${rp}'`);
  if (rp !== 'on-failure' && h.RestartPolicy?.MaximumRetryCount)
    throw invalidArgument(`maximum retry count cannot be used with restart policy '${rp}'`);
  if (h.AutoRemove && rp && rp !== 'no') throw invalidArgument('Conflicting options: --restart and --rm');
  const b = h.NetworkBandwidth;
  if (b) checkBandwidth({ guarantee: b.Guarantee ?? 0, limit: b.Limit ?? 0, priority: b.Priority ?? 0 });
  for (const k of ['NetworkIngressRate', 'NetworkEgressRate'] as const) {
    const v = h[k];
    if (v !== undefined && v !== null && (!Number.isInteger(v) || v < 0 || (v > 0 && v < 8000))) throw invalidArgument(`invalid ${k} ${v}: a rate in bits per second, at least 8000 (0 for none)`);
  }
}

const CPU_PERIOD = 100_000;

/**
 * The OCI resources for a HostConfig (create and live update alike). What
 * the host lacks is left out even when a record holds it (a record made
 * on another kernel): a container always starts.
 */
export function toResources(h: HostConfig, f: HostFeatures, device: DeviceLookup = blockDeviceOf): LinuxResources {
  const c = f.cgroups;
  const r: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (c.memory.limit && h.Memory) {
    memory.limit = h.Memory;
    // docker: swap unset means twice the memory (records made before create set it); -1 unlimited.
    if (c.memory.swap) memory.swap = h.MemorySwap || h.Memory * 2;
  }
  if (c.memory.reservation && h.MemoryReservation) memory.reservation = h.MemoryReservation;
  if (c.memory.oomKillDisable && h.OomKillDisable) memory.disableOOMKiller = true;
  if (c.memory.swappiness && (h.MemorySwappiness ?? -1) >= 0) memory.swappiness = h.MemorySwappiness!;
  if (c.memory.kernelTcp && h.KernelMemoryTCP) memory.kernelTCP = h.KernelMemoryTCP;
  if (Object.keys(memory).length) r.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (c.cpu.cfsQuota) {
    if (h.NanoCpus) {
      cpu.period = CPU_PERIOD;
      cpu.quota = Math.round((h.NanoCpus * CPU_PERIOD) / 1e9);
    }
    if (h.CpuQuota) cpu.quota = h.CpuQuota;
    if (h.CpuPeriod) cpu.period = h.CpuPeriod;
  }
  if (c.cpu.shares && h.CpuShares) cpu.shares = Math.max(2, h.CpuShares);
  if (c.cpuset.enabled && h.CpusetCpus) cpu.cpus = h.CpusetCpus;
  if (c.cpuset.enabled && h.CpusetMems) cpu.mems = h.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;

  if (c.pids && h.PidsLimit !== undefined && h.PidsLimit !== null && h.PidsLimit !== 0) r.pids = { limit: h.PidsLimit };

  const io: NonNullable<LinuxResources['blockIO']> = {};
  if (c.blkio.weight && h.BlkioWeight) io.weight = h.BlkioWeight;
  // A device that is gone since the create is left out: the container still starts.
  const numbered = <T extends { Path: string }, V>(list: T[] | null | undefined, on: boolean, value: (d: T) => V) =>
    on ? (list ?? []).flatMap((d) => { const dev = device(d.Path); return dev ? [{ ...dev, ...value(d) }] : []; }) : [];
  const rate = (d: ThrottleDevice) => ({ rate: d.Rate });
  const lists = {
    weightDevice: numbered(h.BlkioWeightDevice, c.blkio.weightDevice, (d) => ({ weight: d.Weight })),
    throttleReadBpsDevice: numbered(h.BlkioDeviceReadBps, c.blkio.readBps, rate),
    throttleWriteBpsDevice: numbered(h.BlkioDeviceWriteBps, c.blkio.writeBps, rate),
    throttleReadIOPSDevice: numbered(h.BlkioDeviceReadIOps, c.blkio.readIops, rate),
    throttleWriteIOPSDevice: numbered(h.BlkioDeviceWriteIOps, c.blkio.writeIops, rate),
  };
  for (const [k, list] of Object.entries(lists)) if (list.length) Object.assign(io, { [k]: list });
  if (Object.keys(io).length) r.blockIO = io;
  return r;
}

/** Fields `docker update` may change. */
export const UPDATABLE = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus',
  'CpusetMems', 'PidsLimit', 'BlkioWeight', 'RestartPolicy', 'NetworkIngressRate', 'NetworkEgressRate', 'NetworkBandwidth',
] as const;
