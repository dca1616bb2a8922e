import { invalidArgument } from '../base/errors';
import type { LinuxResources, Mount, Seccomp, Spec } from '../oci/runtime-spec';
import { defaultSeccompProfile } from './seccomp';

export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capabilities this process may pass on (its bounding set): `--privileged`
 * and `ALL` mean these, as docker computes them, not the kernel's whole list.
 * ALL_CAPABILITIES is in kernel bit order, so a bit's index is its name's.
 */
export function boundingCapabilities(status = readStatus()): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return [...ALL_CAPABILITIES];
  const mask = BigInt(`0x${m[1]}`);
  return ALL_CAPABILITIES.filter((_c, bit) => (mask >> BigInt(bit)) & 1n);
}

function readStatus(): string {
  try {
    return require('node:fs').readFileSync('/proc/self/status', 'utf8') as string;
  } catch {
    return '';
  }
}

let bounding: string[] | undefined;

export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Device cgroup rules docker grants every container (besides its own /dev nodes). */
const DEFAULT_DEVICE_RULES: NonNullable<LinuxResources['devices']> = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // console
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // tun
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // fuse
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
];

export interface SpecInput {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
  hostname: string;
  tty: boolean;
  readonlyRootfs?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** 'default', 'unconfined', or a profile. */
  seccomp?: 'default' | 'unconfined' | Seccomp;
  /** Mask /proc and /sys paths (docker's systempaths); false for systempaths=unconfined. */
  maskPaths?: boolean;
  mounts?: Mount[];
  shmSize: number;
  resources?: LinuxResources;
  /** docker's --device-cgroup-rule, after its default rules (`c 1:3 mr`, `a *:* rwm`). */
  deviceRules?: string[];
  /** A path to join an existing network namespace; 'host' to stay in the host's; else a new one. */
  netns?: 'new' | 'host' | string;
  pidHost?: boolean;
  ipcHost?: boolean;
  utsHost?: boolean;
  cgroupsPath: string;
  /** A cgroup namespace of its own (false where the kernel has none). */
  cgroupNamespace?: boolean;
  sysctls?: Record<string, string>;
  oomScoreAdj?: number;
  annotations?: Record<string, string>;
}

/** `c 1:3 mr`, `b *:* m`, `a *:* rwm`: a device cgroup rule as docker takes one (an allow rule). */
export function parseDeviceRule(rule: string): NonNullable<LinuxResources['devices']>[number] {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule.trim());
  if (!m) throw invalidArgument(`invalid device cgroup format '${rule}'`);
  return { allow: true, type: m[1], ...(m[2] !== '*' ? { major: Number(m[2]) } : {}), ...(m[3] !== '*' ? { minor: Number(m[3]) } : {}), access: m[4] };
}

/** Normalises `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN` to `CAP_NET_ADMIN`; `ALL` stays. */
export function normalizeCapability(c: string): string {
  const up = c.toUpperCase();
  if (up === 'ALL') return up;
  const cap = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL_CAPABILITIES.includes(cap)) throw invalidArgument(`invalid capability: ${c}`);
  return cap;
}

/** The capability set after --privileged, --cap-add and --cap-drop, as docker computes it. */
export function capabilitySet(privileged: boolean, add: string[] = [], drop: string[] = []): string[] {
  bounding ??= boundingCapabilities();
  if (privileged) return [...bounding];
  const a = add.map(normalizeCapability);
  const d = drop.map(normalizeCapability);
  let caps = a.includes('ALL') ? [...bounding] : [...DEFAULT_CAPABILITIES];
  if (d.includes('ALL')) caps = [];
  caps = caps.filter((c) => !d.includes(c));
  for (const c of a) if (c !== 'ALL' && !caps.includes(c)) caps.push(c);
  return caps;
}

/** Builds the OCI runtime spec for a container. Pure: the same input gives the same spec. */
export function buildSpec(i: SpecInput): Spec {
  const caps = capabilitySet(!!i.privileged, i.capAdd, i.capDrop);
  const ns: Spec['linux']['namespaces'] = [{ type: 'mount' }];
  if (i.cgroupNamespace !== false) ns.push({ type: 'cgroup' });
  if (!i.pidHost) ns.push({ type: 'pid' });
  if (!i.ipcHost) ns.push({ type: 'ipc' });
  if (!i.utsHost) ns.push({ type: 'uts' });
  if (i.netns === undefined || i.netns === 'new') ns.push({ type: 'network' });
  else if (i.netns !== 'host') ns.push({ type: 'network', path: i.netns });

  const sysRo = i.privileged ? [] : ['ro'];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...sysRo] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...sysRo] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if (!i.ipcHost) {
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${i.shmSize}`] });
  } else {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  }
  // User mounts replace defaults at the same destination (e.g. --tmpfs /dev/shm).
  for (const m of i.mounts ?? []) {
    const at = mounts.findIndex((d) => d.destination === m.destination);
    if (at >= 0) mounts.splice(at, 1);
    mounts.push(m);
  }

  let seccomp: Seccomp | undefined;
  if (!i.privileged && i.seccomp !== 'unconfined') seccomp = i.seccomp === undefined || i.seccomp === 'default' ? defaultSeccompProfile(caps) : i.seccomp;
  const mask = !i.privileged && i.maskPaths !== false;

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: i.tty,
      user: { uid: i.user.uid, gid: i.user.gid, additionalGids: i.user.additionalGids?.length ? i.user.additionalGids : undefined },
      args: i.args,
      env: i.env,
      cwd: i.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: i.noNewPrivileges || undefined,
      oomScoreAdj: i.oomScoreAdj,
    },
    root: { path: i.rootfs, readonly: !!i.readonlyRootfs },
    hostname: i.utsHost ? undefined : i.hostname,
    mounts,
    linux: {
      namespaces: ns,
      cgroupsPath: i.cgroupsPath,
      resources: { ...i.resources, devices: i.privileged ? [{ allow: true, access: 'rwm' }] : [...DEFAULT_DEVICE_RULES, ...(i.deviceRules ?? []).map(parseDeviceRule)] },
      seccomp,
      maskedPaths: mask ? MASKED_PATHS : [],
      readonlyPaths: mask ? READONLY_PATHS : [],
      sysctl: i.sysctls && Object.keys(i.sysctls).length ? i.sysctls : undefined,
    },
    annotations: i.annotations,
  };
}
