import * as path from 'node:path';
import { conflict, invalidArgument } from '../../base/errors';
import { shortId } from '../../base/ids';
import { readUserDb, resolveUser } from '../../base/users';
import type { HostFeatures } from '../../host/features';
import type { Mount, Seccomp } from '../../oci/runtime-spec';
import { buildSpec } from '../../runtime/spec';
import type { EngineConfig } from '../config';
import type { ContainerRecord } from '../model';
import type { NetworkService, Sandbox } from '../networks/networks';
import type { ContainerStore } from './container-store';
import { writeEtcFiles } from './etc-files';
import { toResources } from './host-config';
import { type LinkedContainer, linkEnv, parseLink } from './links';
import { mergeEnv } from './merge';

/** Mounts a container's run gets from the daemon's own services. */
export interface RunMounts {
  /** lxcfs's /proc and /sys files; none when it does not serve. */
  procViews(): Mount[];
  /** The probe agent's folder, for a container with a health check; none when agents are off or it cannot go in. */
  probeAgent(c: ContainerRecord, mounts: Mount[]): Mount | undefined;
}

const NO_RUN_MOUNTS: RunMounts = { procViews: () => [], probeAgent: () => undefined };

/**
 * A container's OCI spec at its start: what its record asks, fitted to the
 * host, with its /etc files written, its links' variables and the network
 * namespace it joins.
 */
export class ContainerSpecs {
  constructor(
    private readonly cfg: EngineConfig,
    private readonly store: ContainerStore,
    private readonly networks: NetworkService,
    private readonly runMounts: RunMounts = NO_RUN_MOUNTS,
  ) {}

  /** The OCI spec of a container whose rootfs is mounted at `rootfs`, with its volumes and binds as `mounts`. */
  async build(c: ContainerRecord, rootfs: string, sandbox: Sandbox | undefined, mounts: Mount[]) {
    const h = c.HostConfig;
    const netMode = h.NetworkMode ?? 'default';
    const hostNet = netMode === 'host';
    const links = this.linkedContainers(c);
    const etc = await writeEtcFiles(this.store.dir(c.Id), {
      hostname: c.Config.Hostname!, domainname: c.Config.Domainname, hostNetwork: hostNet, ip: sandbox?.ip, ip6: sandbox?.ip6, nameserver: sandbox?.nameserver,
      extraHosts: h.ExtraHosts ?? [], dns: h.Dns ?? [], dnsSearch: h.DnsSearch ?? [], dnsOptions: h.DnsOptions ?? [],
      links: links.map((l) => ({ ip: l.ip, names: [l.alias, shortId(l.id), l.name] })),
    });
    const { passwd, groups } = await readUserDb(rootfs);
    const user = resolveUser(c.Config.User ?? '', passwd, groups, h.GroupAdd ?? []);
    // The links' variables first: the container's own win, as docker orders them.
    const env = mergeEnv(links.flatMap((l) => linkEnv(c.Name.slice(1), l.alias, l)), c.Config.Env);
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${c.Config.Hostname}`);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    if (c.Config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const sec = (h.SecurityOpt ?? []).map(parseSecurityOpt);
    const seccompOpt = sec.find((s) => s.key === 'seccomp');
    let seccomp: 'default' | 'unconfined' | Seccomp = 'default';
    // As dockerd: a kernel without seccomp runs containers without the default profile (info says so).
    if (seccompOpt?.value === 'unconfined' || !this.cfg.host.security.seccomp) seccomp = 'unconfined';
    else if (seccompOpt && seccompOpt.value !== 'default') seccomp = JSON.parse(seccompOpt.value);
    const init = h.Init ?? this.cfg.defaultInit;
    const args = [c.Path, ...c.Args];
    mounts.push(
      { destination: '/etc/hostname', type: 'bind', source: etc.hostname, options: ['rbind', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: etc.hosts, options: ['rbind', 'rprivate'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: etc.resolv, options: ['rbind', 'rprivate'] },
    );
    if (init) mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: this.cfg.initPath, options: ['rbind', 'ro', 'rprivate'] });
    const views = this.runMounts.procViews();
    mounts.push(...views);
    c.procView = views.length > 0;
    const agent = this.runMounts.probeAgent(c, mounts);
    if (agent) mounts.push(agent);
    c.probeAgent = !!agent;
    let netns: string = sandbox?.netns ?? 'new';
    if (hostNet) netns = 'host';
    else if (netMode.startsWith('container:')) {
      const other = this.store.get(netMode.slice('container:'.length));
      if (!other.State.Running) throw conflict(`cannot join network of a non running container: ${other.Id}`);
      const mode = other.HostConfig.NetworkMode ?? 'default';
      netns = mode === 'host' ? 'host' : mode.startsWith('container:') ? `/proc/${other.State.Pid}/ns/net` : this.networks.netnsPath(other.Id);
    }
    return buildSpec({
      rootfs,
      args: init ? ['/sbin/docker-init', '--', ...args] : args,
      env,
      cwd: c.Config.WorkingDir || '/',
      user,
      hostname: c.Config.Hostname!,
      tty: !!c.Config.Tty,
      readonlyRootfs: !!h.ReadonlyRootfs,
      privileged: !!h.Privileged,
      capAdd: h.CapAdd ?? [],
      capDrop: h.CapDrop ?? [],
      noNewPrivileges: sec.some((s) => s.key === 'no-new-privileges' && s.value !== 'false'),
      seccomp,
      maskPaths: !sec.some((s) => s.key === 'systempaths' && s.value === 'unconfined'),
      mounts,
      shmSize: h.ShmSize || this.cfg.defaultShmSize,
      resources: toResources(h, this.cfg.host),
      deviceRules: h.DeviceCgroupRules ?? [],
      cgroupNamespace: this.cfg.host.cgroups.namespaces,
      netns,
      pidHost: h.PidMode === 'host',
      ipcHost: h.IpcMode === 'host',
      utsHost: h.UTSMode === 'host' || hostNet,
      cgroupsPath: path.posix.join(this.cfg.cgroupParent, c.Id),
      sysctls: { ...defaultSysctls(netMode, this.cfg.host), ...h.Sysctls },
      oomScoreAdj: h.OomScoreAdj || undefined,
    });
  }

  /**
   * The containers a container links to (docker's legacy links, on the
   * default bridge): each running, with its address there; on a user network
   * a link is kept and shown but gives no variables or hosts lines.
   */
  private linkedContainers(c: ContainerRecord): (LinkedContainer & { id: string; alias: string })[] {
    const mode = c.HostConfig.NetworkMode ?? 'default';
    if (mode !== 'default' && mode !== 'bridge') return [];
    return (c.HostConfig.Links ?? []).map((spec) => {
      const l = parseLink(spec);
      const t = this.store.find(l.target);
      if (!t?.State.Running) throw conflict(`Cannot link to a non running container: /${l.target} AS /${c.Name.slice(1)}/${l.alias}`);
      const ip = this.networks.live(t).networks.bridge?.IPAddress;
      if (!ip) throw conflict(`Cannot link to /${l.target}, as it does not belong to the default network`);
      return { id: t.Id, alias: l.alias, name: t.Name.slice(1), ip, ports: Object.keys(t.Config.ExposedPorts ?? {}), env: t.Config.Env ?? [] };
    });
  }
}

/** `--security-opt` entries: `key=value`, `key:value` (old form) or a bare `no-new-privileges`. */
export function parseSecurityOpt(opt: string): { key: string; value: string } {
  if (opt === 'no-new-privileges') return { key: opt, value: 'true' };
  const i = opt.search(/[=:]/);
  if (i < 0) throw invalidArgument(`Invalid --security-opt: ${JSON.stringify(opt)}`);
  const key = opt.slice(0, i);
  const value = opt.slice(i + 1);
  if (!['seccomp', 'no-new-privileges', 'systempaths', 'label', 'apparmor'].includes(key)) throw invalidArgument(`Invalid --security-opt: ${JSON.stringify(opt)}`);
  if (key === 'seccomp' && value !== 'unconfined' && value !== 'default') {
    try {
      JSON.parse(value);
    } catch {
      throw invalidArgument('Decoding seccomp profile failed: the profile must be passed as JSON');
    }
  }
  return { key, value };
}

/**
 * docker's default sysctls for a container with a network namespace of its
 * own, where the kernel has them: non-root processes may bind ports below
 * 1024 and send pings (the capabilities docker grants allow both anyway).
 * The container's own --sysctl values win.
 */
function defaultSysctls(netMode: string, host: HostFeatures): Record<string, string> {
  if (netMode === 'host' || netMode.startsWith('container:')) return {};
  return {
    ...(host.net.pingGroupRange ? { 'net.ipv4.ping_group_range': '0 2147483647' } : {}),
    ...(host.net.unprivilegedPortStart ? { 'net.ipv4.ip_unprivileged_port_start': '0' } : {}),
  };
}

