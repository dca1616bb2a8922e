import type { HostFs } from './host-fs';

/** A block device's I/O schedulers: the one in use and those it offers. */
export interface IoScheduler {
  device: string;
  active: string;
  available: string[];
}

export interface SecurityFeatures {
  seccomp: boolean;
  apparmor: boolean;
  selinux: boolean;
  userNamespaces: boolean;
}

/** overlayfs and the mount options its kernel knows (true: the option may be given). */
export interface OverlayFeatures {
  present: boolean;
  index: boolean;
  metacopy: boolean;
  redirectDir: boolean;
  volatile: boolean;
}

export interface NetSysctls {
  ipv4Forwarding: boolean;
  /** The kernel has IPv6 and it is not disabled: dual-stack networks are possible. */
  ipv6: boolean;
  /** IPv6 is routed between interfaces: a dual-stack network reaches beyond its bridge and the host. */
  ipv6Forwarding: boolean;
  /** br_netfilter: bridged traffic passes iptables (docker warns when off). */
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
  /** The network sysctls docker sets in each container's own namespace exist (kernel ≥ 4.11, ≥ 3.x): non-root may bind low ports and ping. */
  unprivilegedPortStart: boolean;
  pingGroupRange: boolean;
}

/** `6.18.44-fc-v669` → [6, 18, 44]. */
export function kernelVersion(release: string): number[] {
  return (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release)?.slice(1) ?? []).map((x) => Number(x ?? 0));
}

export function atLeast(release: string, want: number[]): boolean {
  const have = kernelVersion(release);
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0;
    if (h !== want[i]) return h > want[i];
  }
  return true;
}

export function ioSchedulers(fs: HostFs): IoScheduler[] {
  return fs.list('/sys/block').flatMap((device) => {
    const text = fs.read(`/sys/block/${device}/queue/scheduler`);
    if (text === undefined) return [];
    const available = text.trim().split(/\s+/).filter(Boolean).map((s) => s.replace(/^\[|\]$/g, ''));
    return [{ device, active: /\[([^\]]+)\]/.exec(text)?.[1] ?? 'none', available }];
  });
}

export function securityFeatures(fs: HostFs): SecurityFeatures {
  return {
    // The status line exists when the kernel has CONFIG_SECCOMP; filters (mode 2) since it was built with them.
    seccomp: /^Seccomp:/m.test(fs.read('/proc/self/status') ?? ''),
    apparmor: fs.read('/sys/module/apparmor/parameters/enabled') === 'Y' && fs.exists('/sys/kernel/security/apparmor'),
    selinux: fs.exists('/sys/fs/selinux/enforce'),
    userNamespaces: fs.exists('/proc/self/ns/user') && Number(fs.read('/proc/sys/user/max_user_namespaces') ?? '0') > 0,
  };
}

export function overlayFeatures(fs: HostFs, release: string): OverlayFeatures {
  const present = /\soverlay$/m.test(fs.read('/proc/filesystems') ?? '');
  // Each option's module parameter came with it; volatile (5.10) has none.
  const param = (p: string) => present && fs.exists(`/sys/module/overlay/parameters/${p}`);
  return { present, index: param('index'), metacopy: param('metacopy'), redirectDir: param('redirect_dir'), volatile: present && atLeast(release, [5, 10]) };
}

export function netSysctls(fs: HostFs): NetSysctls {
  const on = (p: string) => fs.read(p)?.trim() === '1';
  return {
    ipv4Forwarding: on('/proc/sys/net/ipv4/ip_forward'),
    ipv6: fs.exists('/proc/sys/net/ipv6/conf/all/disable_ipv6') && !on('/proc/sys/net/ipv6/conf/all/disable_ipv6'),
    ipv6Forwarding: on('/proc/sys/net/ipv6/conf/all/forwarding'),
    bridgeNfIptables: on('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    bridgeNfIp6tables: on('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
    unprivilegedPortStart: fs.exists('/proc/sys/net/ipv4/ip_unprivileged_port_start'),
    pingGroupRange: fs.exists('/proc/sys/net/ipv4/ping_group_range'),
  };
}
