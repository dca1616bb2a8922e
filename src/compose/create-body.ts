import * as fs from 'node:fs';
import { errorMessage, invalidArgument } from '../base/errors';
import { parseGoDuration } from '../base/duration';
import { parseSize } from '../base/sizes';
import { COMPOSE_VERSION, configHash, Label } from './labels';
import type { FileGrant, NetworkAttachment, Project, Service } from './spec/model';

type Json = Record<string, unknown>;

/** The name of a service's container: compose v2's `project-service-N`, or `container_name`. */
export function containerName(p: Project, s: Service, n: number): string {
  return (s.container_name as string | undefined) ?? `${p.name}-${s.name}-${n}`;
}

/** How many containers a service runs: `--scale`, then `deploy.replicas`, then `scale`, then one. */
export function scaleOf(s: Service, override?: number): number {
  const replicas = (s.deploy as { replicas?: number } | undefined)?.replicas;
  const n = override ?? replicas ?? s.scale ?? 1;
  if (n > 1 && s.container_name) throw invalidArgument(`service "${s.name}" has container_name "${s.container_name}" and cannot be scaled to ${n}`);
  const fixed = s.ports.find((x) => /^\d+$/.test(x.published));
  if (n > 1 && fixed) throw invalidArgument(`service "${s.name}" publishes host port ${fixed.published} and cannot run ${n} containers (publish a range, or let the daemon pick the port)`);
  return n;
}

const nanos = (d: unknown, what: string): number | undefined => {
  if (d === undefined) return undefined;
  const ns = parseGoDuration(String(d));
  if (ns === undefined) throw invalidArgument(`invalid duration ${JSON.stringify(d)} for ${what}`);
  return ns;
};

/** Microseconds: a number as it is, a duration (`950ms`) converted. */
const micros = (v: unknown, what: string): number | undefined => (v === undefined ? undefined : typeof v === 'number' ? v : Math.round(nanos(v, what)! / 1000));

const bytes = (v: unknown): number | undefined => (v === undefined ? undefined : typeof v === 'number' ? v : parseSize(String(v)));

/** `no`, `always`, `unless-stopped`, `on-failure[:N]` as docker's RestartPolicy. */
function restartPolicy(r: string | undefined): Json | undefined {
  if (!r) return undefined;
  const [name, max] = r.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(name)) throw invalidArgument(`invalid restart policy ${JSON.stringify(r)}`);
  return { Name: name === 'no' ? '' : name, MaximumRetryCount: max ? Number(max) : 0 };
}

interface BlkioConfig {
  weight?: number;
  weight_device?: { path: string; weight: number }[];
  device_read_bps?: { path: string; rate: number | string }[];
  device_write_bps?: { path: string; rate: number | string }[];
  device_read_iops?: { path: string; rate: number | string }[];
  device_write_iops?: { path: string; rate: number | string }[];
}

/** `blkio_config` as docker's HostConfig fields. */
function blkio(b: BlkioConfig | undefined): Json {
  if (!b) return {};
  const rates = (xs: { path: string; rate: number | string }[] | undefined, iops: boolean) => xs?.map((x) => ({ Path: x.path, Rate: iops ? Number(x.rate) : bytes(x.rate) }));
  return {
    BlkioWeight: b.weight,
    BlkioWeightDevice: b.weight_device?.map((x) => ({ Path: x.path, Weight: x.weight })),
    BlkioDeviceReadBps: rates(b.device_read_bps, false),
    BlkioDeviceWriteBps: rates(b.device_write_bps, false),
    BlkioDeviceReadIOps: rates(b.device_read_iops, true),
    BlkioDeviceWriteIOps: rates(b.device_write_iops, true),
  };
}

/** The networks a container joins, the first (by priority, then name) being its network mode. */
export function networkOrder(s: Service): [string, NetworkAttachment][] {
  return Object.entries(s.networks).sort(([a, x], [b, y]) => y.priority - x.priority || a.localeCompare(b));
}

/** An endpoint's settings: the service's name and aliases resolve to it on that network. */
export function endpointOf(s: Service, a: NetworkAttachment): Json {
  const ipam: Json = {};
  if (a.ipv4_address) ipam.IPv4Address = a.ipv4_address;
  if (a.ipv6_address) ipam.IPv6Address = a.ipv6_address;
  return { Aliases: [s.name, ...a.aliases], ...(Object.keys(ipam).length ? { IPAMConfig: ipam } : {}) };
}

/** A grant that asks for an owner or a mode: its file is copied in with them, since a bind keeps the host's. */
const ownedGrant = (g: FileGrant) => g.uid !== undefined || g.gid !== undefined || g.mode !== undefined;

/**
 * Secrets and configs from files: bound read-only at their targets, as docker
 * compose binds them; those that ask for uid, gid or mode are copied in
 * instead (docker compose warns and ignores them).
 */
function grantMounts(p: Project, s: Service): Json[] {
  return (['secrets', 'configs'] as const).flatMap((kind) => s[kind].flatMap((g) => {
    const file = p[kind][g.source]?.file;
    return file !== undefined && !ownedGrant(g) ? [{ Type: 'bind', Source: file, Target: g.target, ReadOnly: true }] : [];
  }));
}

/** A file to place in a container before its start: a secret's or config's content. */
export interface GrantFile {
  path: string;
  content: string | Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Secrets and configs written into the container before it starts: those
 * with content (inline, or read from a variable), and files that ask for an
 * owner or a mode (read as the container is made).
 */
export function grantFiles(p: Project, s: Service): GrantFile[] {
  return (['secrets', 'configs'] as const).flatMap((kind) => s[kind].flatMap((g) => {
    const src = p[kind][g.source];
    if (!src) return [];
    const content = src.file !== undefined ? (ownedGrant(g) ? readGrant(kind, g.source, src.file) : undefined) : src.content;
    if (content === undefined) return [];
    return [{ path: g.target, content, uid: Number(g.uid ?? 0), gid: Number(g.gid ?? 0), mode: g.mode ?? 0o444 }];
  }));
}

function readGrant(kind: string, name: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw invalidArgument(`${kind.slice(0, -1)} "${name}": cannot read ${file}: ${errorMessage(e)}`);
  }
}

/** The containers of other services that a service's container names (links, volumes_from, network_mode). */
export type ContainerOf = (service: string) => string;

/**
 * The Engine API's create body for a service's container number `n`: the
 * spec's fields in docker's shape, compose's labels, and the first network
 * (others are connected after create: the API of 1.41 takes one).
 */
export function createBody(p: Project, s: Service, n: number, other: ContainerOf): { name: string; body: Json } {
  const deploy = (s.deploy ?? {}) as { resources?: { limits?: Json; reservations?: Json } };
  const limits = deploy.resources?.limits ?? {};
  const reservations = deploy.resources?.reservations ?? {};
  const labels: Record<string, string> = {
    ...s.labels,
    [Label.project]: p.name,
    [Label.service]: s.name,
    [Label.number]: String(n),
    [Label.oneoff]: 'False',
    [Label.hash]: configHash(s),
    [Label.workingDir]: p.workingDir,
    [Label.configFiles]: p.configFiles.join(','),
    [Label.version]: COMPOSE_VERSION,
    [Label.dependsOn]: Object.entries(s.depends_on).map(([d, x]) => `${d}:${x.condition}:${x.restart}`).join(','),
  };
  const h = s.healthcheck;
  const healthcheck = h && (h.disable ? { Test: ['NONE'] } : {
    Test: h.test,
    Interval: nanos(h.interval, 'healthcheck.interval'),
    Timeout: nanos(h.timeout, 'healthcheck.timeout'),
    StartPeriod: nanos(h.start_period, 'healthcheck.start_period'),
    StartInterval: nanos(h.start_interval, 'healthcheck.start_interval'),
    Retries: h.retries,
  });
  const exposed: Json = {};
  for (const e of s.expose) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of s.ports) {
    const key = `${port.target}/${port.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: port.host_ip, HostPort: port.published });
  }
  const mounts: Json[] = s.volumes.map((v) => ({
    Type: v.type,
    Source: v.type === 'volume' && v.source ? p.volumes[v.source].name : v.source,
    Target: v.target,
    ReadOnly: v.read_only,
    ...(v.bind?.propagation ? { BindOptions: { Propagation: v.bind.propagation } } : {}),
    ...(v.volume?.nocopy ? { VolumeOptions: { NoCopy: true } } : {}),
    ...(v.tmpfs?.size !== undefined ? { TmpfsOptions: { SizeBytes: bytes(v.tmpfs.size) } } : {}),
  }));
  const nets = networkOrder(s);
  let networkMode = s.network_mode;
  if (networkMode?.startsWith('service:')) networkMode = `container:${other(networkMode.slice(8))}`;
  const endpoints: Json = {};
  if (!networkMode && nets.length) {
    const [key, a] = nets[0];
    networkMode = p.networks[key].name;
    endpoints[networkMode] = endpointOf(s, a);
  }
  const ulimits = Object.entries((s.ulimits ?? {}) as Record<string, number | { soft: number; hard: number }>)
    .map(([Name, v]) => (typeof v === 'number' ? { Name, Soft: v, Hard: v } : { Name, Soft: v.soft, Hard: v.hard }));
  const logging = s.logging as { driver?: string; options?: Record<string, string> } | undefined;
  const cpus = s.cpus ?? limits.cpus;
  const body: Json = {
    Image: s.image,
    Cmd: s.command,
    Entrypoint: s.entrypoint,
    Env: Object.entries(s.environment).map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    WorkingDir: s.working_dir,
    User: s.user,
    Hostname: s.hostname,
    Domainname: s.domainname,
    Tty: s.tty,
    OpenStdin: s.stdin_open,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Healthcheck: healthcheck,
    StopSignal: s.stop_signal,
    StopTimeout: s.stop_grace_period !== undefined ? Math.round(nanos(s.stop_grace_period, 'stop_grace_period')! / 1e9) : undefined,
    MacAddress: s.mac_address,
    HostConfig: {
      NetworkMode: networkMode,
      PortBindings: bindings,
      Mounts: [...mounts, ...grantMounts(p, s)],
      RestartPolicy: restartPolicy(s.restart),
      Memory: bytes(s.mem_limit ?? limits.memory),
      MemoryReservation: bytes(s.mem_reservation ?? reservations.memory),
      MemorySwap: bytes(s.memswap_limit),
      MemorySwappiness: s.mem_swappiness,
      NanoCpus: cpus !== undefined ? Math.round(Number(cpus) * 1e9) : undefined,
      CpuShares: s.cpu_shares,
      CpuQuota: s.cpu_quota,
      CpuPeriod: s.cpu_period,
      CpusetCpus: s.cpuset,
      PidsLimit: s.pids_limit ?? limits.pids,
      Privileged: s.privileged,
      CapAdd: s.cap_add,
      CapDrop: s.cap_drop,
      SecurityOpt: s.security_opt,
      ReadonlyRootfs: s.read_only,
      Init: s.init,
      Dns: s.dns === undefined ? undefined : [s.dns].flat(),
      DnsSearch: s.dns_search === undefined ? undefined : [s.dns_search].flat(),
      DnsOptions: s.dns_opt,
      ExtraHosts: Array.isArray(s.extra_hosts) ? s.extra_hosts : s.extra_hosts ? Object.entries(s.extra_hosts as Json).map(([k, v]) => `${k}:${v}`) : undefined,
      GroupAdd: s.group_add,
      Sysctls: Array.isArray(s.sysctls) ? Object.fromEntries((s.sysctls as string[]).map((x) => x.split('='))) : s.sysctls,
      Ulimits: ulimits.length ? ulimits : undefined,
      Tmpfs: s.tmpfs === undefined ? undefined : Object.fromEntries([s.tmpfs].flat().map((t) => { const [k, ...o] = String(t).split(':'); return [k, o.join(':')]; })),
      ShmSize: bytes(s.shm_size),
      // external_links name containers outside the project, by their own names.
      Links: [...s.links.map((l) => { const [svc, alias] = l.split(':'); return `${other(svc)}:${alias ?? svc}`; }), ...((s.external_links as string[] | undefined) ?? []).map((l) => (l.includes(':') ? l : `${l}:${l}`))],
      VolumesFrom: s.volumes_from.map((v) => (v.startsWith('container:') ? v.slice(10) : (([svc, mode]) => (mode ? `${other(svc)}:${mode}` : other(svc)))(v.split(':')))),
      LogConfig: logging ? { Type: logging.driver ?? 'json-file', Config: logging.options ?? {} } : undefined,
      OomScoreAdj: s.oom_score_adj,
      OomKillDisable: s.oom_kill_disable,
      Devices: (s.devices as string[] | undefined)?.map((d) => { const [h, c = h, perm = 'rwm'] = d.split(':'); return { PathOnHost: h, PathInContainer: c, CgroupPermissions: perm }; }),
      Ipc: s.ipc,
      Pid: s.pid,
      Runtime: s.runtime,
      CgroupParent: s.cgroup_parent,
      DeviceCgroupRules: s.device_cgroup_rules,
      StorageOpt: s.storage_opt,
      UsernsMode: s.userns_mode,
      CpuRealtimePeriod: micros(s.cpu_rt_period, 'cpu_rt_period'),
      CpuRealtimeRuntime: micros(s.cpu_rt_runtime, 'cpu_rt_runtime'),
      ...blkio(s.blkio_config as BlkioConfig | undefined),
    },
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  return { name: containerName(p, s, n), body: JSON.parse(JSON.stringify(body)) };
}
