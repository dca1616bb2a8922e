import * as os from 'node:os';
import { invalidArgument } from '../base/errors';
import type { LinuxResources } from '../oci/runtime-spec';
import type { HostConfig } from './model';

const MIN_MEMORY = 6 * 1024 * 1024;
const RESTART_POLICIES = ['', 'no', 'always', 'on-failure', 'unless-stopped'];

/** Checks a HostConfig the way docker's daemon does before anything is created. */
export function validateHostConfig(h: HostConfig, cpuCount = os.cpus().length): void {
  if (h.Memory && h.Memory > 0 && h.Memory < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (h.MemorySwap && h.MemorySwap > 0) {
    if (!h.Memory) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit');
    if (h.MemorySwap < h.Memory) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (h.MemoryReservation && h.Memory && h.Memory > 0 && h.MemoryReservation > h.Memory)
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (h.NanoCpus) {
    if (h.NanoCpus < 0 || h.NanoCpus > cpuCount * 1e9)
      throw invalidArgument(`Range of CPUs is from 0.01 to ${cpuCount}.00, as there are only ${cpuCount} CPUs available`);
    if (h.CpuQuota || h.CpuPeriod) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set');
  }
  if (h.CpuShares !== undefined && h.CpuShares < 0) throw invalidArgument('invalid CPU shares: must be positive');
  if (h.CpusetCpus) parseCpuset(h.CpusetCpus, cpuCount);
  if (h.BlkioWeight && (h.BlkioWeight < 10 || h.BlkioWeight > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if (h.ShmSize !== undefined && h.ShmSize < 0) throw invalidArgument('SHM size can not be less than 0');
  if (h.OomScoreAdj !== undefined && (h.OomScoreAdj < -1000 || h.OomScoreAdj > 1000))
    throw invalidArgument(`Invalid value ${h.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  const rp = h.RestartPolicy?.Name ?? '';
  if (!RESTART_POLICIES.includes(rp)) throw invalidArgument(`invalid restart policy '${rp}'`);
  if (rp !== 'on-failure' && h.RestartPolicy?.MaximumRetryCount)
    throw invalidArgument(`maximum retry count cannot be used with restart policy '${rp}'`);
  if (h.AutoRemove && rp && rp !== 'no') throw invalidArgument('Conflicting options: --restart and --rm');
  for (const k of ['NetworkIngressRate', 'NetworkEgressRate'] as const) {
    const v = h[k];
    if (v !== undefined && v !== null && (!Number.isInteger(v) || v < 0 || (v > 0 && v < 8000))) throw invalidArgument(`invalid ${k} ${v}: a rate in bits per second, at least 8000 (0 for none)`);
  }
}

/** `0-3,5` → validated against the CPUs that exist. */
export function parseCpuset(s: string, cpuCount: number): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw invalidArgument(`Invalid value ${s} for cpuset cpus`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw invalidArgument(`Invalid value ${s} for cpuset cpus`);
    for (let i = a; i <= b; i++) {
      if (i >= cpuCount) throw invalidArgument(`Requested CPUs are not available - requested ${s}, available: 0-${cpuCount - 1}`);
      out.push(i);
    }
  }
  return out;
}

const CPU_PERIOD = 100_000;

/** The OCI resources for a HostConfig (create and live update alike). */
export function toResources(h: HostConfig): LinuxResources {
  const r: LinuxResources = {};
  if (h.Memory || h.MemorySwap || h.MemoryReservation || h.OomKillDisable || (h.MemorySwappiness ?? -1) >= 0) {
    r.memory = {};
    if (h.Memory) r.memory.limit = h.Memory;
    if (h.MemoryReservation) r.memory.reservation = h.MemoryReservation;
    // docker: swap unset means twice the memory; -1 unlimited.
    if (h.MemorySwap) r.memory.swap = h.MemorySwap;
    else if (h.Memory) r.memory.swap = h.Memory * 2;
    if (h.OomKillDisable) r.memory.disableOOMKiller = true;
    if ((h.MemorySwappiness ?? -1) >= 0) r.memory.swappiness = h.MemorySwappiness!;
  }
  if (h.NanoCpus || h.CpuShares || h.CpuQuota || h.CpuPeriod || h.CpusetCpus || h.CpusetMems) {
    r.cpu = {};
    if (h.NanoCpus) {
      r.cpu.period = CPU_PERIOD;
      r.cpu.quota = Math.round((h.NanoCpus * CPU_PERIOD) / 1e9);
    }
    if (h.CpuQuota) r.cpu.quota = h.CpuQuota;
    if (h.CpuPeriod) r.cpu.period = h.CpuPeriod;
    if (h.CpuShares) r.cpu.shares = Math.max(2, h.CpuShares);
    if (h.CpusetCpus) r.cpu.cpus = h.CpusetCpus;
    if (h.CpusetMems) r.cpu.mems = h.CpusetMems;
  }
  if (h.PidsLimit !== undefined && h.PidsLimit !== null && h.PidsLimit !== 0) r.pids = { limit: h.PidsLimit };
  if (h.BlkioWeight) r.blockIO = { weight: h.BlkioWeight };
  return r;
}

/** Fields `docker update` may change. */
export const UPDATABLE = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus',
  'CpusetMems', 'PidsLimit', 'BlkioWeight', 'RestartPolicy', 'NetworkIngressRate', 'NetworkEgressRate',
] as const;
