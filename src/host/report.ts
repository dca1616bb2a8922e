import type { HostFeatures } from './features';

/** What the daemon adds to the host's own parts: the runtimes it found, an init binary. */
export interface DaemonParts {
  runtimes: string[];
  init: boolean;
  /** /proc views: served by lxcfs, turned off (`--proc-view host`), or wanted but lxcfs is not installed. */
  procView?: 'lxcfs' | 'off' | 'missing';
}

/** One line of the host report: a part or a feature, whether it is on, and what that means. */
export interface HostReportRow {
  Area: string;
  Item: string;
  On: boolean;
  Detail: string;
}

/** The tc parts each direction's rate limit needs (the CNI bandwidth plugin's: tbf; for egress an ifb fed by mirred). */
function rateParts(f: HostFeatures): { ingress: [string, boolean][]; egress: [string, boolean][] } {
  const n = f.net;
  const ingress: [string, boolean][] = [['veth', n.veth], ['the tbf qdisc', n.qdiscs.tbf]];
  return { ingress, egress: [...ingress, ['the ingress qdisc', n.qdiscs.ingress], ['ifb', n.ifb], ['u32 with mirred', n.u32Mirred]] };
}

/** What a shared link's guarantees need: HTB classes, and CLASSIFY to put traffic in them. */
function shareParts(f: HostFeatures): [string, boolean][] {
  return [['the htb qdisc', f.net.qdiscs.htb], ["iptables' CLASSIFY target", f.net.classify]];
}

/** Why containers cannot have shares of the link here (undefined: they can). */
export function sharesUnsupported(f: HostFeatures): string | undefined {
  const lacks = shareParts(f).filter(([, ok]) => !ok).map(([p]) => p);
  return lacks.length ? `the kernel lacks ${lacks.join(' and ')}` : undefined;
}

export function rateLimits(f: HostFeatures): { ingress: boolean; egress: boolean } {
  const p = rateParts(f);
  return { ingress: p.ingress.every(([, ok]) => ok), egress: p.egress.every(([, ok]) => ok) };
}

/** Berth's features that depend on a host part: each on or off, with why. */
export function berthFeatures(f: HostFeatures, d: DaemonParts): HostReportRow[] {
  const n = f.net;
  const missing = (parts: [string, boolean][]) => parts.filter(([, ok]) => !ok).map(([p]) => p);
  const feature = (Item: string, needs: [string, boolean][], on: string, off: string): HostReportRow => {
    const lacks = missing(needs);
    return { Area: 'berth', Item, On: lacks.length === 0, Detail: lacks.length === 0 ? on : `the kernel lacks ${lacks.join(', ')}: ${off}` };
  };
  const rates = rateParts(f);
  const rows = [
    feature('network ingress rate limits', rates.ingress, 'tbf on the host end of the veth', '--network-ingress-rate is discarded'),
    feature('network egress rate limits', rates.egress, 'ingress redirected to an ifb with tbf', '--network-egress-rate is discarded'),
    feature('network bandwidth shares', shareParts(f), 'HTB classes on the shared link, traffic classified by address (CLASSIFY)', '--network-bandwidth is refused'),
    feature('published ports', [['iptables DNAT', n.iptables.dnat], ['iptables MASQUERADE', n.iptables.masquerade]], "portmap's DNAT", '-p and -P are refused'),
    feature('seccomp', [['seccomp', f.security.seccomp]], "docker's default profile", 'containers run without a seccomp profile; a custom one is refused'),
  ];
  if (d.runtimes.includes('crun')) {
    const hybrid = f.cgroups.hybridControllers;
    rows.push({ Area: 'berth', Item: 'runtime crun', On: hybrid.length === 0, Detail: hybrid.length === 0 ? 'usable' : `crun refuses cgroup v1 beside a v2 hierarchy with controllers (${hybrid.join(', ')}): --runtime crun is refused` });
  }
  rows.push({ Area: 'berth', Item: '--init', On: d.init, Detail: d.init ? 'tini-static' : 'tini-static is not installed: --init is refused' });
  if (d.procView) {
    const details = { lxcfs: "lxcfs: containers see their own limits in /proc", off: "off (--proc-view host): containers see the host's /proc", missing: "lxcfs is not installed: containers see the host's /proc" };
    rows.push({ Area: 'berth', Item: '/proc views', On: d.procView !== 'missing', Detail: details[d.procView] });
  }
  return rows;
}

/** The host's parts as `system check` lists them, Berth's features last. */
export function hostReport(f: HostFeatures, d: DaemonParts): HostReportRow[] {
  const c = f.cgroups;
  const row = (Area: string, Item: string, On: boolean, Detail = '') => ({ Area, Item, On, Detail });
  const controllers = Object.keys(c.controllers).sort().join(' ');
  const blkioFile = c.version === 2 ? 'io' : 'blkio';
  const sched = f.ioSchedulers.filter((s) => !/^(loop|ram|zram)\d/.test(s.device));
  return [
    row('kernel', 'release', true, f.kernel),
    row('cgroups', `v${c.version}`, true, `${controllers}${c.hybridControllers.length ? `; v2 beside it: ${c.hybridControllers.join(' ')}` : ''}`),
    row('cgroups', 'memory limit', c.memory.limit),
    row('cgroups', 'swap limit', c.memory.swap, c.memory.swap ? '' : '--memory-swap is discarded'),
    row('cgroups', 'memory reservation', c.memory.reservation),
    row('cgroups', 'memory swappiness', c.memory.swappiness),
    row('cgroups', 'oom kill disable', c.memory.oomKillDisable),
    row('cgroups', 'kernel memory limit', false, 'deprecated by Linux and ignored by runc 1.1: --kernel-memory is discarded'),
    row('cgroups', 'kernel TCP memory limit', c.memory.kernelTcp),
    row('cgroups', 'cpu shares', c.cpu.shares),
    row('cgroups', 'cpu cfs quota and period', c.cpu.cfsQuota && c.cpu.cfsPeriod),
    row('cgroups', 'cpu realtime', c.cpu.realtime),
    row('cgroups', 'cpuset', c.cpuset.enabled, c.cpuset.enabled ? `cpus ${c.cpuset.cpus}, mems ${c.cpuset.mems}` : ''),
    row('cgroups', 'pids limit', c.pids),
    row('cgroups', `${blkioFile} weight`, c.blkio.weight, c.blkio.weight ? '' : 'no device offers a proportional I/O scheduler (BFQ): --blkio-weight is discarded'),
    row('cgroups', `${blkioFile} weight per device`, c.blkio.weightDevice),
    row('cgroups', `${blkioFile} throttling`, c.blkio.readBps && c.blkio.writeBps && c.blkio.readIops && c.blkio.writeIops),
    row('cgroups', 'hugetlb', c.hugetlb.enabled, c.hugetlb.pageSizes.join(' ')),
    row('cgroups', 'devices', c.devices),
    row('cgroups', 'namespaces', c.namespaces),
    ...sched.map((s) => row('block', `${s.device} scheduler`, true, `${s.active} (offers ${s.available.join(', ')})`)),
    row('security', 'seccomp', f.security.seccomp),
    row('security', 'apparmor', f.security.apparmor),
    row('security', 'selinux', f.security.selinux),
    row('security', 'user namespaces', f.security.userNamespaces),
    row('overlay', 'overlayfs', f.overlay.present, ['index', 'metacopy', 'redirectDir', 'volatile'].filter((k) => f.overlay[k as 'index']).join(' ')),
    row('network', 'ipv4 forwarding', f.net.ipv4Forwarding),
    row('network', 'ipv6', f.net.ipv6, f.net.ipv6 && !f.net.ipv6Forwarding ? 'not forwarded: dual-stack networks reach their bridge and the host' : ''),
    row('network', 'bridge-nf-call-iptables', f.net.bridgeNfIptables),
    row('network', 'qdiscs', true, Object.entries(f.net.qdiscs).map(([q, on]) => `${q}${on ? '' : ' (no)'}`).join(' ')),
    row('network', 'ifb and mirred', f.net.ifb && f.net.u32Mirred),
    row('network', 'iptables NAT and conntrack', f.net.iptables.dnat && f.net.iptables.masquerade && f.net.iptables.conntrack, f.net.error ?? ''),
    row('network', 'nftables', f.net.nftables),
    row('checkpoint', 'criu', f.criu.works, f.criu.detail),
    ...berthFeatures(f, d),
  ];
}

/**
 * `info`'s Warnings: docker's lines for what it reports (20.10's
 * rules: some only on one cgroup version), then a line for each of Berth's
 * features that is off here.
 */
export function infoWarnings(f: HostFeatures, d: DaemonParts): string[] {
  const c = f.cgroups;
  const v1 = c.version === 1;
  const w: string[] = [];
  const add = (ok: boolean, line: string) => ok || w.push(`WARNING: ${line}`);
  add(c.memory.limit, 'No memory limit support');
  add(c.memory.swap, 'No swap limit support');
  add(!v1 || c.memory.kernelTcp, 'No kernel memory TCP limit support');
  add(!v1 || c.memory.oomKillDisable, 'No oom kill disable support');
  add(c.cpu.cfsQuota, 'No cpu cfs quota support');
  add(c.cpu.cfsPeriod, 'No cpu cfs period support');
  add(c.cpu.shares, 'No cpu shares support');
  add(c.cpuset.enabled, 'No cpuset support');
  // docker 20.10 is silent on v1 blkio weight ("no action user can take"); saying it spares users a discarded flag's surprise.
  add(c.blkio.weight, v1 ? 'No blkio weight support' : 'No io.weight support');
  add(c.blkio.weightDevice, v1 ? 'No blkio weight_device support' : 'No io.weight (per device) support');
  add(c.blkio.readBps, v1 ? 'No blkio throttle.read_bps_device support' : 'No io.max (rbps) support');
  add(c.blkio.writeBps, v1 ? 'No blkio throttle.write_bps_device support' : 'No io.max (wbps) support');
  add(c.blkio.readIops, v1 ? 'No blkio throttle.read_iops_device support' : 'No io.max (riops) support');
  add(c.blkio.writeIops, v1 ? 'No blkio throttle.write_iops_device support' : 'No io.max (wiops) support');
  add(f.net.ipv4Forwarding, 'IPv4 forwarding is disabled');
  add(f.net.bridgeNfIptables, 'bridge-nf-call-iptables is disabled');
  add(f.net.bridgeNfIp6tables, 'bridge-nf-call-ip6tables is disabled');
  for (const r of berthFeatures(f, d)) add(r.On, `${r.Item} is off: ${r.Detail}`);
  return w;
}
