import type { HostFs } from './host-fs';

/** What the host's cgroups let Berth limit, as docker's pkg/sysinfo tells it. */
export interface CgroupFeatures {
  version: 1 | 2;
  /** v1: the hierarchies mounted, by controller, with their mount points; v2: the root's controllers (mount point /sys/fs/cgroup). */
  controllers: Record<string, string>;
  /** v1 with controllers in a v2 hierarchy beside it (crun refuses this layout). */
  hybridControllers: string[];
  memory: {
    limit: boolean;
    /** memory+swap limits (v1 memsw, v2 memory.swap.max). */
    swap: boolean;
    reservation: boolean;
    swappiness: boolean;
    oomKillDisable: boolean;
    /** Kernel memory limits: deprecated by Linux (ignored since 6.1) and ignored by runc 1.1, so never in force. */
    kernel: false;
    kernelTcp: boolean;
  };
  cpu: { shares: boolean; cfsQuota: boolean; cfsPeriod: boolean; realtime: boolean };
  /** cpus and mems: what the root cpuset holds (`0-1`); empty when there is no cpuset controller. */
  cpuset: { enabled: boolean; cpus: string; mems: string };
  pids: boolean;
  /** Weights need a proportional I/O scheduler (BFQ; on v2 also io.cost); throttling works with any. */
  blkio: { weight: boolean; weightDevice: boolean; readBps: boolean; writeBps: boolean; readIops: boolean; writeIops: boolean };
  hugetlb: { enabled: boolean; pageSizes: string[] };
  devices: boolean;
  /** cgroup namespaces (the container sees its own cgroup as the root). */
  namespaces: boolean;
}

interface Mount {
  point: string;
  fstype: string;
  superOptions: string[];
}

/** cgroup and cgroup2 mounts of this process's mount namespace, in mount order. */
function cgroupMounts(fs: HostFs): Mount[] {
  const out: Mount[] = [];
  for (const line of (fs.read('/proc/self/mountinfo') ?? '').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const point = pre.split(' ')[4].replace(/\\040/g, ' ');
    out.push({ point, fstype, superOptions: (superOpts ?? '').split(',') });
  }
  return out;
}

const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc'];

/** The page sizes the kernel offers huge pages in (`2MB`, `1GB`), as runc names hugetlb's files. */
function hugePageSizes(fs: HostFs): string[] {
  return fs.list('/sys/kernel/mm/hugepages').flatMap((d) => {
    const kb = Number(/^hugepages-(\d+)kB$/.exec(d)?.[1]);
    if (!kb) return [];
    return [kb >= 1 << 20 ? `${kb >> 20}GB` : kb >= 1 << 10 ? `${kb >> 10}MB` : `${kb}KB`];
  });
}

/** A block device offers BFQ, so its cgroup weight files exist (v2 shows them only below the root). */
function bfqOffered(fs: HostFs): boolean {
  return fs.list('/sys/block').some((d) => /(^|[\s[])bfq([\s\]]|$)/.test(fs.read(`/sys/block/${d}/queue/scheduler`) ?? ''));
}

export function detectCgroups(fs: HostFs): CgroupFeatures {
  const mounts = cgroupMounts(fs);
  const unified = mounts.find((m) => m.fstype === 'cgroup2' && m.point === '/sys/fs/cgroup') ?? (fs.exists('/sys/fs/cgroup/cgroup.controllers') ? { point: '/sys/fs/cgroup' } : undefined);
  const common = { hugetlb: { enabled: false, pageSizes: hugePageSizes(fs) }, namespaces: fs.exists('/proc/self/ns/cgroup') };
  if (unified) return detectV2(fs, unified.point, common);

  const controllers: Record<string, string> = {};
  for (const m of mounts) {
    if (m.fstype !== 'cgroup') continue;
    for (const o of m.superOptions) if (V1_CONTROLLERS.includes(o) && !(o in controllers)) controllers[o] = m.point;
  }
  const hybrid = mounts.find((m) => m.fstype === 'cgroup2');
  const hybridControllers = hybrid ? (fs.read(`${hybrid.point}/cgroup.controllers`) ?? '').split(/\s+/).filter(Boolean) : [];
  const has = (c: string, file: string) => c in controllers && fs.exists(`${controllers[c]}/${file}`);
  const blkioWeight = has('blkio', 'blkio.weight') || has('blkio', 'blkio.bfq.weight');
  return {
    version: 1,
    controllers,
    hybridControllers,
    memory: {
      limit: 'memory' in controllers,
      swap: has('memory', 'memory.memsw.limit_in_bytes'),
      reservation: has('memory', 'memory.soft_limit_in_bytes'),
      swappiness: has('memory', 'memory.swappiness'),
      oomKillDisable: has('memory', 'memory.oom_control'),
      kernel: false,
      kernelTcp: has('memory', 'memory.kmem.tcp.limit_in_bytes'),
    },
    cpu: { shares: has('cpu', 'cpu.shares'), cfsQuota: has('cpu', 'cpu.cfs_quota_us'), cfsPeriod: has('cpu', 'cpu.cfs_period_us'), realtime: has('cpu', 'cpu.rt_period_us') },
    cpuset: cpusetOf(fs, controllers.cpuset, 'cpuset.cpus', 'cpuset.mems'),
    pids: 'pids' in controllers,
    blkio: {
      weight: blkioWeight,
      weightDevice: has('blkio', 'blkio.weight_device') || has('blkio', 'blkio.bfq.weight_device'),
      readBps: has('blkio', 'blkio.throttle.read_bps_device'),
      writeBps: has('blkio', 'blkio.throttle.write_bps_device'),
      readIops: has('blkio', 'blkio.throttle.read_iops_device'),
      writeIops: has('blkio', 'blkio.throttle.write_iops_device'),
    },
    ...common,
    hugetlb: { ...common.hugetlb, enabled: 'hugetlb' in controllers },
    devices: 'devices' in controllers,
  };
}

function cpusetOf(fs: HostFs, dir: string | undefined, cpusFile: string, memsFile: string): CgroupFeatures['cpuset'] {
  if (!dir) return { enabled: false, cpus: '', mems: '' };
  return { enabled: true, cpus: fs.read(`${dir}/${cpusFile}`)?.trim() ?? '', mems: fs.read(`${dir}/${memsFile}`)?.trim() ?? '' };
}

function detectV2(fs: HostFs, root: string, common: Pick<CgroupFeatures, 'hugetlb' | 'namespaces'>): CgroupFeatures {
  const names = (fs.read(`${root}/cgroup.controllers`) ?? '').split(/\s+/).filter(Boolean);
  const controllers = Object.fromEntries(names.map((n) => [n, root]));
  const on = (c: string) => names.includes(c);
  // Files that exist only below the root are looked for in this process's own cgroup, as docker does.
  const own = /^0::(.*)$/m.exec(fs.read('/proc/self/cgroup') ?? '')?.[1] ?? '/';
  const ownDir = `${root}${own === '/' ? '' : own}`;
  const io = on('io');
  const ioWeight = io && (fs.exists(`${ownDir}/io.bfq.weight`) || fs.exists(`${ownDir}/io.weight`) || bfqOffered(fs));
  return {
    version: 2,
    controllers,
    hybridControllers: [],
    memory: {
      limit: on('memory'),
      swap: on('memory') && own !== '/' && fs.exists(`${ownDir}/memory.swap.max`),
      reservation: on('memory'),
      swappiness: false,
      oomKillDisable: false,
      kernel: false,
      kernelTcp: false,
    },
    cpu: { shares: on('cpu'), cfsQuota: on('cpu'), cfsPeriod: on('cpu'), realtime: false },
    cpuset: on('cpuset') ? cpusetOf(fs, root, 'cpuset.cpus.effective', 'cpuset.mems.effective') : cpusetOf(fs, undefined, '', ''),
    pids: on('pids'),
    blkio: { weight: ioWeight, weightDevice: ioWeight, readBps: io, writeBps: io, readIops: io, writeIops: io },
    ...common,
    hugetlb: { ...common.hugetlb, enabled: on('hugetlb') },
    // v2 controls devices with eBPF, always there.
    devices: true,
  };
}
