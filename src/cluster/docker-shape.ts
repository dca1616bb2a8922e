import { invalidArgument, notFound } from '../base/errors';
import { parseConstraint, parsePreference } from './core/constraints';
import { REBALANCE_THRESHOLD_LABEL, rebalancePolicy } from './core/rebalancer';
import { HISTORY } from './core/reconciler';
import { certDigest, keyDigest, tlsInfo } from './tls/cert-info';
import { DEFAULT_CERT_EXPIRY_SECONDS } from './tls/pki';
import type { CaSpec, TlsReport } from './tls/rotation';
import { type ClusterNetwork, type ClusterObject, type ContainerTemplate, type FileGrant, type FailureAction, type HostPort, type RestartCondition, type Rollout, type ServiceSpec, UPDATE_DEFAULTS, type UpdatePolicy } from './core/model';
import type { ClusterInfo, ServiceRecord, Snapshot, TaskRecord, TaskStatus } from './store/store';
import { taskState } from './store/store';

/** docker's swarm ServiceSpec (Engine API 1.41), the parts Berth reads. */
export interface DockerServiceSpec {
  Name?: string;
  Labels?: Record<string, string>;
  TaskTemplate?: {
    ContainerSpec?: {
      Image?: string; Command?: string[]; Args?: string[]; Env?: string[]; Dir?: string; User?: string;
      Labels?: Record<string, string>; StopGracePeriod?: number; Mounts?: DockerMount[]; Healthcheck?: ContainerTemplate['healthcheck'];
      Secrets?: DockerFileGrant[]; Configs?: DockerFileGrant[];
    };
    Resources?: { Limits?: { NanoCPUs?: number; MemoryBytes?: number }; Reservations?: { NanoCPUs?: number; MemoryBytes?: number } };
    RestartPolicy?: { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number };
    Placement?: { Constraints?: string[]; Preferences?: { Spread?: { SpreadDescriptor?: string } }[]; MaxReplicas?: number };
    Networks?: DockerNetworkAttachment[];
    ForceUpdate?: number;
  };
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: DockerUpdateConfig;
  RollbackConfig?: DockerUpdateConfig;
  EndpointSpec?: { Mode?: string; Ports?: DockerPort[] };
  Networks?: DockerNetworkAttachment[];
}

interface DockerNetworkAttachment {
  Target?: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

interface DockerPort {
  Name?: string;
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: string;
}

interface DockerFileGrant {
  File?: { Name?: string; UID?: string; GID?: string; Mode?: number };
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
  Runtime?: unknown;
}

/** What a spec may name besides its image: the cluster's networks, secrets and configs. */
export interface Named {
  networks: ClusterNetwork[];
  secrets: ClusterObject[];
  configs: ClusterObject[];
}

interface DockerMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
}

interface DockerUpdateConfig {
  Parallelism?: number; Delay?: number; Order?: string; FailureAction?: string; Monitor?: number; MaxFailureRatio?: number;
}

const NS_PER_MS = 1e6;
const CONDITIONS: RestartCondition[] = ['none', 'on-failure', 'any'];

/**
 * docker's spec in Berth's terms, refusing what is wrong (docker's words
 * where it has them) and what Berth's cluster does not do yet, rather
 * than dropping it silently.
 */
export function fromDockerSpec(d: DockerServiceSpec, named: Named = { networks: [], secrets: [], configs: [] }): ServiceSpec {
  const t = d.TaskTemplate ?? {};
  const c = t.ContainerSpec ?? {};
  if (!c.Image) throw invalidArgument('ContainerSpec: image reference must be provided');
  const name = d.Name ?? '';
  // swarm's rule: letters and digits, with dashes and underscores between them (a stack's services are STACK_NAME).
  if (name.length > 63 || !/^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$/.test(name)) throw invalidArgument(`rpc error: code = InvalidArgument desc = name must be valid as a DNS name component: ${JSON.stringify(name)}`);
  if (d.Mode?.Replicated && d.Mode.Global) throw invalidArgument('a service is replicated or global, not both');
  const replicas = d.Mode?.Global ? undefined : (d.Mode?.Replicated?.Replicas ?? 1);
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) throw invalidArgument(`invalid replicas value ${replicas}: a whole number, 0 or more`);
  const mode = d.EndpointSpec?.Mode || 'vip';
  if (mode !== 'vip' && mode !== 'dnsrr') throw invalidArgument(`invalid endpoint mode ${JSON.stringify(mode)}: vip or dnsrr`);
  const attached = networksOf(t.Networks?.length ? t.Networks : (d.Networks ?? []), named.networks);
  const files = [...(c.Secrets ?? []).map((g) => grantOf('secret', g, named.secrets)), ...(c.Configs ?? []).map((g) => grantOf('config', g, named.configs))];
  const targets = files.map((f) => f.target);
  const twice = targets.find((x, i) => targets.indexOf(x) !== i);
  if (twice) throw invalidArgument(`rpc error: code = InvalidArgument desc = file references conflict: ${twice} is given twice`);
  const ports = portsOf(d.EndpointSpec?.Ports ?? []);
  const mounts = (c.Mounts ?? []).map(mountOf);
  const rp = t.RestartPolicy ?? {};
  const condition = (rp.Condition ?? 'any') as RestartCondition;
  if (!CONDITIONS.includes(condition)) throw invalidArgument(`invalid RestartCondition ${JSON.stringify(rp.Condition)}: none, on-failure or any`);
  const constraints = t.Placement?.Constraints ?? [];
  constraints.forEach(parseConstraint);
  const preferences = (t.Placement?.Preferences ?? []).map((p) => `spread=${p.Spread?.SpreadDescriptor ?? ''}`);
  preferences.forEach(parsePreference);
  const nonNegative = (v: number | undefined, what: string) => {
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw invalidArgument(`invalid ${what} ${v}: not negative`);
    return v ?? 0;
  };
  const res = t.Resources ?? {};
  return {
    name,
    container: {
      image: c.Image,
      ...(c.Command?.length ? { command: c.Command } : {}), ...(c.Args?.length ? { args: c.Args } : {}), ...(c.Env?.length ? { env: c.Env } : {}),
      ...(c.Dir ? { workdir: c.Dir } : {}), ...(c.User ? { user: c.User } : {}), ...(c.Labels && Object.keys(c.Labels).length ? { labels: c.Labels } : {}),
      ...(c.StopGracePeriod !== undefined ? { stopGraceSeconds: Math.round(c.StopGracePeriod / 1e9) } : {}),
      ...(c.Healthcheck ? { healthcheck: healthcheckOf(c.Healthcheck) } : {}),
      ...(attached.length ? { networks: attached } : {}), ...(mounts.length ? { mounts } : {}), ...(ports.length ? { ports } : {}), ...(files.length ? { files } : {}),
      ...(res.Limits?.NanoCPUs || res.Limits?.MemoryBytes ? { limits: { nanoCpus: nonNegative(res.Limits.NanoCPUs, 'limit of CPUs'), memoryBytes: nonNegative(res.Limits.MemoryBytes, 'limit of memory') } } : {}),
    },
    mode: replicas === undefined ? { global: {} } : { replicated: { replicas } },
    reservations: { nanoCpus: nonNegative(res.Reservations?.NanoCPUs, 'reservation of CPUs'), memoryBytes: nonNegative(res.Reservations?.MemoryBytes, 'reservation of memory') },
    placement: { constraints, preferences, maxReplicasPerNode: nonNegative(t.Placement?.MaxReplicas, 'MaxReplicas') },
    restart: {
      condition, delayMs: nonNegative(rp.Delay, 'restart delay') / NS_PER_MS || (rp.Delay === undefined ? 5000 : 0),
      maxAttempts: nonNegative(rp.MaxAttempts, 'MaxAttempts'), windowMs: nonNegative(rp.Window, 'restart window') / NS_PER_MS,
    },
    update: updatePolicyOf(d.UpdateConfig, 'update'),
    rollback: updatePolicyOf(d.RollbackConfig, 'rollback'),
    labels: d.Labels ?? {},
  };
}

/** The service's networks by id, each once (a name, an id or a unique prefix of one names it). */
function networksOf(given: DockerNetworkAttachment[], networks: ClusterNetwork[]): NonNullable<ContainerTemplate['networks']> {
  const out: NonNullable<ContainerTemplate['networks']> = [];
  for (const a of given) {
    const ref = a.Target ?? '';
    const byPrefix = networks.filter((n) => n.id.startsWith(ref));
    const n = networks.find((x) => x.id === ref) ?? networks.find((x) => x.name === ref) ?? (ref && byPrefix.length === 1 ? byPrefix[0] : undefined);
    // dockerd's words; a local network (bridge, a user bridge) is not one a service can join.
    if (!n) throw notFound(`network ${ref} not found (services join cluster networks: docker network create --driver overlay)`);
    if (out.some((x) => x.id === n.id)) throw invalidArgument(`service cannot be attached to network ${n.name} more than once`);
    for (const alias of a.Aliases ?? []) if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(alias)) throw invalidArgument(`invalid network alias ${JSON.stringify(alias)}`);
    out.push({ id: n.id, ...(a.Aliases?.length ? { aliases: [...a.Aliases] } : {}) });
  }
  return out;
}

/**
 * A secret or config the tasks get as a file: found by id, else name (the
 * docker CLI sends both); a secret's relative target is under
 * /run/secrets, a config's under / (swarm's), owned by root, mode 0444
 * unless given.
 */
function grantOf(kind: FileGrant['kind'], g: DockerFileGrant, known: ClusterObject[]): FileGrant {
  const id = kind === 'secret' ? g.SecretID : g.ConfigID;
  const name = kind === 'secret' ? g.SecretName : g.ConfigName;
  const o = known.find((x) => x.id === id) ?? known.find((x) => x.name === (name ?? id));
  if (!o) throw notFound(`${kind} not found: ${id ?? name ?? ''}`);
  const file = g.File?.Name || o.name;
  if (file.split('/').includes('..')) throw invalidArgument(`invalid ${kind} target ${JSON.stringify(file)}: no ".." in it`);
  const target = file.startsWith('/') ? file : kind === 'secret' ? `/run/secrets/${file}` : `/${file}`;
  const id32 = (v: string | undefined, what: string) => {
    if (v === undefined || v === '') return 0;
    if (!/^\d+$/.test(v)) throw invalidArgument(`invalid ${kind} file ${what} ${JSON.stringify(v)}: a number`);
    return Number(v);
  };
  const mode = g.File?.Mode ?? 0o444;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw invalidArgument(`invalid ${kind} file mode ${mode}`);
  return { kind, id: o.id, target, uid: id32(g.File?.UID, 'uid'), gid: id32(g.File?.GID, 'gid'), mode };
}

/** Published ports: swarm's host mode, on the task's node. The routing mesh (ingress, docker's default) is refused, saying so. */
function portsOf(given: DockerPort[]): HostPort[] {
  return given.map((p) => {
    const protocol = (p.Protocol || 'tcp') as HostPort['protocol'];
    if (protocol !== 'tcp' && protocol !== 'udp') throw invalidArgument(`invalid protocol ${JSON.stringify(p.Protocol)}: tcp or udp`);
    const valid = (v: number | undefined) => v === undefined || v === 0 || (Number.isInteger(v) && v > 0 && v < 65536);
    if (!p.TargetPort || !valid(p.TargetPort) || !valid(p.PublishedPort)) throw invalidArgument(`invalid port ${p.PublishedPort ?? ''}:${p.TargetPort ?? ''}: ports are 1 to 65535`);
    if ((p.PublishMode || 'ingress') !== 'host') {
      throw invalidArgument(`Berth's cluster does not have the routing mesh yet (ingress, docker's default mode): publish on the tasks' nodes with --publish mode=host,published=${p.PublishedPort ?? p.TargetPort},target=${p.TargetPort}`);
    }
    return { target: p.TargetPort, ...(p.PublishedPort ? { published: p.PublishedPort } : {}), protocol };
  });
}

/** A mount checked for what can be known before a node makes it (a bind's source is checked on its node). */
function mountOf(m: DockerMount): Record<string, unknown> {
  const type = m.Type || 'volume';
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw invalidArgument(`invalid mount type ${JSON.stringify(m.Type)}: bind, volume or tmpfs`);
  if (!m.Target?.startsWith('/')) throw invalidArgument(`invalid mount config: mount target must be an absolute path: ${JSON.stringify(m.Target ?? '')}`);
  if (type === 'bind' && !m.Source?.startsWith('/')) throw invalidArgument(`invalid mount config for type "bind": source must be an absolute path: ${JSON.stringify(m.Source ?? '')}`);
  if (type === 'tmpfs' && m.Source) throw invalidArgument('invalid mount config for type "tmpfs": source must be empty');
  return { ...m, Type: type };
}

/** UpdateConfig or RollbackConfig with swarm's defaults (a rollback's failure action cannot be rollback). */
function updatePolicyOf(u: DockerUpdateConfig | undefined, what: 'update' | 'rollback'): UpdatePolicy {
  const c = u ?? {};
  const actions: FailureAction[] = what === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue'];
  const failureAction = (c.FailureAction || UPDATE_DEFAULTS.failureAction) as FailureAction;
  if (!actions.includes(failureAction)) throw invalidArgument(`invalid ${what} failure action ${JSON.stringify(c.FailureAction)}: ${actions.join(', ')}`);
  const order = c.Order || UPDATE_DEFAULTS.order;
  if (order !== 'stop-first' && order !== 'start-first') throw invalidArgument(`invalid ${what} order ${JSON.stringify(c.Order)}: stop-first or start-first`);
  const ratio = c.MaxFailureRatio ?? 0;
  if (!(ratio >= 0 && ratio <= 1)) throw invalidArgument(`invalid ${what} max failure ratio ${ratio}: from 0 to 1`);
  for (const [v, name] of [[c.Parallelism, 'parallelism'], [c.Delay, 'delay'], [c.Monitor, 'monitor']] as const) {
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw invalidArgument(`invalid ${what} ${name} ${v}: not negative`);
  }
  return {
    parallelism: c.Parallelism ?? UPDATE_DEFAULTS.parallelism, delayMs: (c.Delay ?? 0) / NS_PER_MS, failureAction,
    // docker's CLI sends 0 for a monitor not given: swarm's default then.
    monitorMs: c.Monitor ? c.Monitor / NS_PER_MS : UPDATE_DEFAULTS.monitorMs, maxFailureRatio: ratio, order,
  };
}

function healthcheckOf(h: NonNullable<ContainerTemplate['healthcheck']>): ContainerTemplate['healthcheck'] {
  const test = h.Test ?? [];
  if (test.length && !['NONE', 'CMD', 'CMD-SHELL'].includes(test[0])) throw invalidArgument(`invalid Healthcheck.Test ${JSON.stringify(test)}: NONE, CMD or CMD-SHELL first`);
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[k];
    if (v !== undefined && v !== 0 && (!Number.isFinite(v) || v < 1e6)) throw invalidArgument(`invalid Healthcheck.${k} ${v}: at least 1ms`);
  }
  if (h.Retries !== undefined && (!Number.isInteger(h.Retries) || h.Retries < 0)) throw invalidArgument(`invalid Healthcheck.Retries ${h.Retries}`);
  return h;
}

const version = (index: number) => ({ Index: index });

/** A roll-out as docker's UpdateStatus. */
function updateStatusOf(r: Rollout) {
  return {
    State: r.state, StartedAt: new Date(r.startedAt).toISOString(),
    ...(r.completedAt !== undefined ? { CompletedAt: new Date(r.completedAt).toISOString() } : {}), Message: r.message,
  };
}

/** A service as docker's API shows it: the spec as given, with docker's defaults filled. */
export function toDockerService(s: ServiceRecord, running?: number, desired?: number) {
  return {
    ID: s.id, Version: version(s.index), CreatedAt: s.createdAt, UpdatedAt: s.updatedAt,
    Spec: withDefaults((s.given ?? {}) as DockerServiceSpec, s.spec),
    ...(s.previous ? { PreviousSpec: withDefaults((s.previousGiven ?? {}) as DockerServiceSpec, s.previous.spec) } : {}),
    Endpoint: { Spec: { Mode: (s.given as DockerServiceSpec | undefined)?.EndpointSpec?.Mode || 'vip', ...(s.spec.container.ports?.length ? { Ports: (s.given as DockerServiceSpec).EndpointSpec?.Ports } : {}) } },
    ...(s.rollout ? { UpdateStatus: updateStatusOf(s.rollout) } : {}),
    ...(running !== undefined ? { ServiceStatus: { RunningTasks: running, DesiredTasks: desired ?? 0, CompletedTasks: 0 } } : {}),
  };
}

function withDefaults(d: DockerServiceSpec, s: ServiceSpec): DockerServiceSpec {
  const t = d.TaskTemplate ?? {};
  return {
    ...d, Labels: d.Labels ?? {},
    TaskTemplate: {
      ...t, ContainerSpec: { ...t.ContainerSpec },
      Resources: t.Resources ?? { Limits: {}, Reservations: {} },
      RestartPolicy: { Condition: s.restart.condition, Delay: s.restart.delayMs * NS_PER_MS, MaxAttempts: s.restart.maxAttempts, ...(s.restart.windowMs ? { Window: s.restart.windowMs * NS_PER_MS } : {}) },
      Placement: t.Placement ?? {},
      ForceUpdate: t.ForceUpdate ?? 0,
    },
    Mode: 'global' in s.mode ? { Global: {} } : { Replicated: { Replicas: s.mode.replicated.replicas } },
    UpdateConfig: dockerUpdateConfig(s.update), RollbackConfig: dockerUpdateConfig(s.rollback),
  };
}

function dockerUpdateConfig(p: UpdatePolicy): DockerUpdateConfig {
  return { Parallelism: p.parallelism, Delay: p.delayMs * NS_PER_MS, FailureAction: p.failureAction, Monitor: p.monitorMs * NS_PER_MS, MaxFailureRatio: p.maxFailureRatio, Order: p.order };
}

/** A service's task template as docker shows it in each of its tasks (made once per listing, not per task). */
export function taskTemplateOf(s: ServiceRecord): DockerServiceSpec['TaskTemplate'] {
  return withDefaults((s.given ?? {}) as DockerServiceSpec, s.spec).TaskTemplate;
}

/** A task's addresses as docker's NetworksAttachments. */
function attachmentsOf(t: TaskRecord, networks: Map<string, ClusterNetwork>) {
  return Object.entries(t.addresses ?? {}).flatMap(([id, ip]) => {
    const n = networks.get(id);
    if (!n) return [];
    return [{
      Network: { ID: n.id, Spec: { Name: n.name, Labels: n.labels, DriverConfiguration: { Name: n.driver }, Scope: 'swarm' }, DriverState: { Name: n.driver, Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(n.vni) } }, IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: n.subnet, Gateway: n.gateway }] } },
      Addresses: [`${ip}/${n.subnet.split('/')[1]}`],
    }];
  });
}

/** A task as docker's API shows it. */
export function toDockerTask(t: TaskRecord & { status?: TaskStatus }, template: DockerServiceSpec['TaskTemplate'] | undefined, index: number, networks = new Map<string, ClusterNetwork>()) {
  const st = t.status;
  const state = taskState(t);
  return {
    ID: t.id, Version: version(index), CreatedAt: new Date(t.createdAt).toISOString(), UpdatedAt: new Date(st?.at ?? t.updatedAt).toISOString(),
    Labels: {}, Spec: template ?? {}, ServiceID: t.serviceId,
    ...(t.slot !== undefined ? { Slot: t.slot } : {}), ...(t.nodeId && (t.assigned || t.orphaned) ? { NodeID: t.nodeId } : {}),
    Status: {
      Timestamp: new Date(st?.at ?? t.updatedAt).toISOString(), State: state, Message: st?.message ?? t.message ?? state,
      ...(state === 'failed' || state === 'rejected' ? { Err: st?.message ?? t.message ?? '' } : {}),
      ...(state === 'pending' && t.message ? { Err: t.message } : {}),
      ...(st?.containerId ? { ContainerStatus: { ContainerID: st.containerId, PID: 0, ExitCode: st.exitCode ?? 0 } } : {}),
    },
    DesiredState: t.desired,
    ...(t.addresses ? { NetworksAttachments: attachmentsOf(t, networks) } : {}),
  };
}

/** A node as docker's API shows it. */
export function toDockerNode(n: Snapshot['nodes'][number], leader: string | undefined, engineVersion: string, ca?: CaSpec) {
  return {
    ID: n.id, Version: version(1), CreatedAt: n.createdAt, UpdatedAt: n.updatedAt,
    Spec: { Labels: n.labels, Role: n.role, Availability: n.availability },
    Description: {
      Hostname: n.hostname, Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: n.allocatable.nanoCpus, MemoryBytes: n.allocatable.memoryBytes },
      Engine: { EngineVersion: engineVersion },
      TLSInfo: nodeTlsInfo(n.tls, ca),
    },
    Status: { State: n.ready ? 'ready' : 'down', Addr: n.addr.replace(/:\d+$/, '') },
    ...(n.role === 'manager' ? { ManagerStatus: { Leader: leader === n.id, Reachability: n.ready ? 'reachable' : 'unreachable', Addr: n.addr } } : {}),
  };
}

/**
 * A node's TLSInfo as swarm shows it, from the digests it reports: the
 * root it anchors to and the CA that signed its certificate, among the
 * cluster's roots (the root, and the one a rotation moves to).
 */
function nodeTlsInfo(tls: TlsReport | undefined, ca: CaSpec | undefined) {
  const known = ca ? [ca.root, ...(ca.rotation ? [ca.rotation.root] : [])] : [];
  const root = known.find((r) => certDigest(r) === tls?.trusts[0]);
  const issuer = known.find((r) => keyDigest(r) === tls?.issuer);
  // Each part on its own: a node that took its new certificate may not trust the new root alone yet.
  const [rootInfo, issuerInfo] = [root ? tlsInfo(root, root) : undefined, issuer ? tlsInfo(issuer, issuer) : undefined];
  return { TrustRoot: rootInfo?.TrustRoot ?? '', CertIssuerSubject: issuerInfo?.CertIssuerSubject ?? '', CertIssuerPublicKey: issuerInfo?.CertIssuerPublicKey ?? '' };
}

/** The swarm as GET /swarm shows it (join tokens to managers only, as docker). */
export function toDockerSwarm(info: ClusterInfo, index: number) {
  const ca = info.ca;
  return {
    ID: info.id, Version: version(index), CreatedAt: info.createdAt, UpdatedAt: info.updatedAt ?? info.createdAt,
    Spec: {
      Name: 'default', Labels: { [REBALANCE_THRESHOLD_LABEL]: String(rebalancePolicy(info.labels).threshold), ...info.labels }, Orchestration: { TaskHistoryRetentionLimit: info.taskHistory ?? HISTORY }, Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
      Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
      CAConfig: { NodeCertExpiry: (ca?.expirySeconds ?? DEFAULT_CERT_EXPIRY_SECONDS) * 1e9, ...(ca?.forceRotate ? { ForceRotate: ca.forceRotate } : {}) },
      TaskDefaults: {}, EncryptionConfig: { AutoLockManagers: false },
    },
    // What nodes are brought to: the root, and the CA that signs (during a rotation, the new one).
    TLSInfo: ca ? tlsInfo(ca.root, ca.rotation?.root ?? ca.root) : { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    RootRotationInProgress: !!ca?.rotation, DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24, DataPathPort: 4789,
    JoinTokens: { Worker: info.joinTokens.worker, Manager: info.joinTokens.manager },
  };
}
