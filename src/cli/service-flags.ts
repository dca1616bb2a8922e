// docker's `service create` and `service update` flags as the Engine API's ServiceSpec (pure).
import { invalidArgument } from '../base/errors';
import { bool, type FlagSpec, list, type Parsed, str } from './flags';
import { ramInBytes } from './resource-flags';
import { durationFlag, HEALTH_FLAGS, healthcheck, intFlag, parseMount } from './value-flags';

/** The parts of swarm's ServiceSpec these flags set. */
export interface ServiceSpecBody {
  Name?: string;
  Labels?: Record<string, string>;
  TaskTemplate?: {
    ContainerSpec?: {
      Image?: string; Command?: string[]; Args?: string[]; Env?: string[]; Dir?: string; User?: string; Labels?: Record<string, string>;
      StopGracePeriod?: number; Healthcheck?: Record<string, unknown>; Mounts?: ReturnType<typeof parseMount>[];
      Secrets?: FileGrantBody[]; Configs?: FileGrantBody[];
    };
    Networks?: { Target: string; Aliases?: string[] }[];
    Resources?: { Limits?: { NanoCPUs?: number; MemoryBytes?: number }; Reservations?: { NanoCPUs?: number; MemoryBytes?: number } };
    RestartPolicy?: { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number };
    Placement?: { Constraints?: string[]; Preferences?: { Spread: { SpreadDescriptor: string } }[]; MaxReplicas?: number };
    ForceUpdate?: number;
  };
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: UpdateConfigBody;
  RollbackConfig?: UpdateConfigBody;
  EndpointSpec?: { Mode?: string; Ports?: PortBody[] };
}

interface FileGrantBody {
  File: { Name: string; UID: string; GID: string; Mode: number };
  SecretName?: string;
  ConfigName?: string;
}

interface PortBody {
  Protocol: string;
  TargetPort: number;
  PublishedPort?: number;
  PublishMode: string;
}

interface UpdateConfigBody {
  Parallelism?: number; Delay?: number; FailureAction?: string; Monitor?: number; MaxFailureRatio?: number; Order?: string;
}

const s = (name: string, short?: string): FlagSpec => ({ name, kind: 'string', ...(short ? { short } : {}) });
const l = (name: string, short?: string): FlagSpec => ({ name, kind: 'list', ...(short ? { short } : {}) });
const b = (name: string, short?: string): FlagSpec => ({ name, kind: 'bool', ...(short ? { short } : {}) });

const UPDATE_KEYS = ['parallelism', 'delay', 'failure-action', 'monitor', 'max-failure-ratio', 'order'];

/** Flags both commands take. */
const COMMON: FlagSpec[] = [
  s('replicas'), s('replicas-max-per-node'), s('reserve-cpu'), s('reserve-memory'), s('limit-cpu'), s('limit-memory'),
  s('stop-grace-period'), s('restart-condition'), s('restart-delay'), s('restart-max-attempts'), s('restart-window'),
  ...UPDATE_KEYS.flatMap((k) => [s(`update-${k}`), s(`rollback-${k}`)]),
  ...HEALTH_FLAGS, s('workdir', 'w'), s('user', 'u'), b('detach', 'd'), b('quiet', 'q'),
  // Berth never asks a registry for a digest at create: accepted, as docker's CLI sends it. --with-registry-auth sends
  // this client's credentials for the image's registry with the spec (the command's part, not the spec's).
  b('no-resolve-image'), b('with-registry-auth'), s('endpoint-mode'),
];

export const CREATE_FLAGS: FlagSpec[] = [...COMMON, s('name'), s('mode'), l('env', 'e'), l('label', 'l'), l('container-label'), l('constraint'), l('placement-pref'), s('entrypoint'),
  l('network'), l('publish', 'p'), l('mount'), l('secret'), l('config')];

export const UPDATE_FLAGS: FlagSpec[] = [
  ...COMMON, s('image'), s('args'), l('env-add'), l('env-rm'), l('label-add'), l('label-rm'), l('container-label-add'), l('container-label-rm'),
  l('constraint-add'), l('constraint-rm'), l('placement-pref-add'), l('placement-pref-rm'), b('force'), b('rollback'),
  l('network-add'), l('network-rm'), l('publish-add'), l('publish-rm'), l('mount-add'), l('mount-rm'),
  l('secret-add'), l('secret-rm'), l('config-add'), l('config-rm'),
];

/** `service create [OPTIONS] IMAGE [COMMAND] [ARG...]`. */
export function createSpec(p: Parsed): ServiceSpecBody {
  const [image, ...args] = p.args;
  const mode = str(p, 'mode') ?? 'replicated';
  if (mode !== 'replicated' && mode !== 'global') throw invalidArgument(`invalid argument "${mode}" for "--mode" flag: replicated or global`);
  if (mode === 'global' && str(p, 'replicas') !== undefined) throw invalidArgument('replicas can only be used with replicated mode');
  const entrypoint = str(p, 'entrypoint');
  const spec: ServiceSpecBody = {
    ...(str(p, 'name') ? { Name: str(p, 'name') } : {}),
    Labels: keyValues(list(p, 'label')),
    TaskTemplate: {
      ContainerSpec: {
        Image: image, ...(args.length ? { Args: args } : {}), ...(entrypoint ? { Command: entrypoint.split(/\s+/).filter(Boolean) } : {}),
        ...(list(p, 'env').length ? { Env: list(p, 'env') } : {}), Labels: keyValues(list(p, 'container-label')),
      },
      Placement: { Constraints: list(p, 'constraint'), Preferences: list(p, 'placement-pref').map(preference) },
      ...(list(p, 'network').length ? { Networks: list(p, 'network').map(networkAttachment) } : {}),
    },
    Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: 1 } },
    ...(list(p, 'publish').length ? { EndpointSpec: { Ports: list(p, 'publish').map(servicePort) } } : {}),
  };
  const c = spec.TaskTemplate!.ContainerSpec!;
  if (list(p, 'mount').length) c.Mounts = list(p, 'mount').map(parseMount);
  if (list(p, 'secret').length) c.Secrets = list(p, 'secret').map((v) => fileGrant('secret', v));
  if (list(p, 'config').length) c.Configs = list(p, 'config').map((v) => fileGrant('config', v));
  return applyCommon(spec, p);
}

/** `service update [OPTIONS] SERVICE`: the flags given change the current spec, nothing else. */
export function updateSpec(current: ServiceSpecBody, p: Parsed): ServiceSpecBody {
  const spec: ServiceSpecBody = JSON.parse(JSON.stringify(current));
  const t = (spec.TaskTemplate ??= {});
  const c = (t.ContainerSpec ??= {});
  const image = str(p, 'image');
  if (image) c.Image = image;
  const args = str(p, 'args');
  if (args !== undefined) c.Args = args.split(/\s+/).filter(Boolean);
  const envName = (e: string) => e.split('=')[0];
  const envRm = new Set(list(p, 'env-rm').map(envName));
  const added = list(p, 'env-add');
  c.Env = [...(c.Env ?? []).filter((e) => !envRm.has(envName(e)) && !added.some((a) => envName(a) === envName(e))), ...added];
  spec.Labels = edit(spec.Labels, list(p, 'label-add'), list(p, 'label-rm'));
  c.Labels = edit(c.Labels, list(p, 'container-label-add'), list(p, 'container-label-rm'));
  const pl = (t.Placement ??= {});
  const gone = new Set(list(p, 'constraint-rm'));
  pl.Constraints = [...(pl.Constraints ?? []).filter((x) => !gone.has(x)), ...list(p, 'constraint-add')];
  const prefGone = new Set(list(p, 'placement-pref-rm'));
  pl.Preferences = [...(pl.Preferences ?? []).filter((x) => !prefGone.has(`spread=${x.Spread.SpreadDescriptor}`)), ...list(p, 'placement-pref-add').map(preference)];
  if (bool(p, 'force')) t.ForceUpdate = (t.ForceUpdate ?? 0) + 1;
  // Networks by the name or id given; ports by published port (or target, where none is published); mounts by target.
  const netRm = new Set(list(p, 'network-rm'));
  t.Networks = [...(t.Networks ?? []).filter((n) => !netRm.has(n.Target)), ...list(p, 'network-add').map(networkAttachment)];
  const portKey = (x: PortBody) => `${x.PublishedPort ?? x.TargetPort}/${x.Protocol}`;
  const portRm = new Set(list(p, 'publish-rm').map((x) => (x.includes('/') ? x : `${x}/tcp`)));
  const ep = (spec.EndpointSpec ??= {});
  ep.Ports = [...(ep.Ports ?? []).filter((x) => !portRm.has(portKey(x))), ...list(p, 'publish-add').map(servicePort)];
  const mountRm = new Set(list(p, 'mount-rm'));
  c.Mounts = [...(c.Mounts ?? []).filter((m) => !mountRm.has(m.Target)), ...list(p, 'mount-add').map(parseMount)];
  // Secrets and configs by the name given (docker's --secret-rm takes the name).
  const secretRm = new Set(list(p, 'secret-rm'));
  c.Secrets = [...(c.Secrets ?? []).filter((g) => !secretRm.has(g.SecretName ?? '')), ...list(p, 'secret-add').map((v) => fileGrant('secret', v))];
  const configRm = new Set(list(p, 'config-rm'));
  c.Configs = [...(c.Configs ?? []).filter((g) => !configRm.has(g.ConfigName ?? '')), ...list(p, 'config-add').map((v) => fileGrant('config', v))];
  return applyCommon(spec, p);
}

/** What both commands set the same way, where a flag is given. */
function applyCommon(spec: ServiceSpecBody, p: Parsed): ServiceSpecBody {
  const t = (spec.TaskTemplate ??= {});
  const c = (t.ContainerSpec ??= {});
  const replicas = intFlag(p, 'replicas');
  if (replicas !== undefined) {
    if (replicas < 0) throw invalidArgument(`invalid replicas value ${replicas}`);
    if (spec.Mode?.Global) throw invalidArgument('replicas can only be used with replicated mode');
    spec.Mode = { Replicated: { Replicas: replicas } };
  }
  const max = intFlag(p, 'replicas-max-per-node');
  if (max !== undefined) (t.Placement ??= {}).MaxReplicas = max;
  const res = (t.Resources ??= {});
  const cpus = (flag: string) => {
    const v = str(p, flag);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) throw invalidArgument(`invalid argument "${v}" for "--${flag}" flag: a number of CPUs`);
    return Math.round(n * 1e9);
  };
  const mem = (flag: string) => (str(p, flag) !== undefined ? ramInBytes(str(p, flag)!, flag) : undefined);
  for (const [kind, key] of [['reserve', 'Reservations'], ['limit', 'Limits']] as const) {
    const cpu = cpus(`${kind}-cpu`);
    const bytes = mem(`${kind}-memory`);
    if (cpu !== undefined) (res[key] ??= {}).NanoCPUs = cpu;
    if (bytes !== undefined) (res[key] ??= {}).MemoryBytes = bytes;
  }
  const endpointMode = str(p, 'endpoint-mode');
  if (endpointMode !== undefined) (spec.EndpointSpec ??= {}).Mode = endpointMode;
  const grace = durationFlag(p, 'stop-grace-period');
  if (grace !== undefined) c.StopGracePeriod = grace;
  if (str(p, 'workdir') !== undefined) c.Dir = str(p, 'workdir');
  if (str(p, 'user') !== undefined) c.User = str(p, 'user');
  const health = healthcheck(p);
  if (health) c.Healthcheck = Object.fromEntries(Object.entries(health).filter(([, v]) => v !== undefined));
  const rp = (t.RestartPolicy ??= {});
  if (str(p, 'restart-condition') !== undefined) rp.Condition = str(p, 'restart-condition');
  const delay = durationFlag(p, 'restart-delay');
  if (delay !== undefined) rp.Delay = delay;
  const attempts = intFlag(p, 'restart-max-attempts');
  if (attempts !== undefined) rp.MaxAttempts = attempts;
  const window = durationFlag(p, 'restart-window');
  if (window !== undefined) rp.Window = window;
  for (const [prefix, key] of [['update', 'UpdateConfig'], ['rollback', 'RollbackConfig']] as const) {
    if (!UPDATE_KEYS.some((k) => str(p, `${prefix}-${k}`) !== undefined)) continue;
    const u = (spec[key] ??= {});
    const par = intFlag(p, `${prefix}-parallelism`);
    if (par !== undefined) u.Parallelism = par;
    const d = durationFlag(p, `${prefix}-delay`);
    if (d !== undefined) u.Delay = d;
    const m = durationFlag(p, `${prefix}-monitor`);
    if (m !== undefined) u.Monitor = m;
    if (str(p, `${prefix}-failure-action`) !== undefined) u.FailureAction = str(p, `${prefix}-failure-action`);
    if (str(p, `${prefix}-order`) !== undefined) u.Order = str(p, `${prefix}-order`);
    const ratio = str(p, `${prefix}-max-failure-ratio`);
    if (ratio !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(ratio)) throw invalidArgument(`invalid argument "${ratio}" for "--${prefix}-max-failure-ratio" flag: a number from 0 to 1`);
      u.MaxFailureRatio = Number(ratio);
    }
  }
  return spec;
}

/** `--network NAME` or docker's long form `name=NAME,alias=A,alias=B`. */
function networkAttachment(v: string): { Target: string; Aliases?: string[] } {
  if (!v.includes('=')) return { Target: v };
  let target = '';
  const aliases: string[] = [];
  for (const part of v.split(',')) {
    const [k, ...rest] = part.split('=');
    const val = rest.join('=');
    if (k === 'name' || k === 'target') target = val;
    else if (k === 'alias') aliases.push(val);
    else throw invalidArgument(`invalid argument "${v}" for "--network" flag: unknown key ${JSON.stringify(k)} (name, alias)`);
  }
  if (!target) throw invalidArgument(`invalid argument "${v}" for "--network" flag: a network name is required`);
  return { Target: target, ...(aliases.length ? { Aliases: aliases } : {}) };
}

/** `--secret NAME` or `source=NAME,target=FILE,uid=0,gid=0,mode=0444` (and --config alike), sent by name. */
function fileGrant(kind: 'secret' | 'config', v: string): FileGrantBody {
  const kv: Record<string, string> = {};
  if (!v.includes('=')) kv.source = v;
  else {
    for (const part of v.split(',')) {
      const [k, ...rest] = part.split('=');
      if (!['source', 'src', 'target', 'uid', 'gid', 'mode'].includes(k)) throw invalidArgument(`invalid argument "${v}" for "--${kind}" flag: unknown key ${JSON.stringify(k)}`);
      kv[k === 'src' ? 'source' : k] = rest.join('=');
    }
  }
  if (!kv.source) throw invalidArgument(`invalid argument "${v}" for "--${kind}" flag: source is required`);
  if (kv.mode !== undefined && !/^[0-7]{1,4}$/.test(kv.mode)) throw invalidArgument(`invalid argument "${v}" for "--${kind}" flag: mode is octal`);
  return {
    File: { Name: kv.target ?? kv.source, UID: kv.uid ?? '0', GID: kv.gid ?? '0', Mode: kv.mode ? parseInt(kv.mode, 8) : 0o444 },
    ...(kind === 'secret' ? { SecretName: kv.source } : { ConfigName: kv.source }),
  };
}

/** `--publish 8080:80[/udp]` (docker's default mode: ingress) or `mode=host,published=8080,target=80,protocol=tcp`. */
export function servicePort(v: string): PortBody {
  const bad = (why: string) => invalidArgument(`invalid argument "${v}" for "--publish" flag: ${why}`);
  const port = (x: string | undefined, what: string) => {
    if (x === undefined || x === '') return undefined;
    if (!/^\d+$/.test(x) || Number(x) < 1 || Number(x) > 65535) throw bad(`invalid ${what} port ${JSON.stringify(x)}`);
    return Number(x);
  };
  if (v.includes('=')) {
    const kv: Record<string, string> = {};
    for (const part of v.split(',')) {
      const [k, ...rest] = part.split('=');
      if (!['mode', 'published', 'target', 'protocol'].includes(k)) throw bad(`unknown key ${JSON.stringify(k)} (mode, published, target, protocol)`);
      kv[k] = rest.join('=');
    }
    const target = port(kv.target, 'target');
    if (!target) throw bad('a target port is required');
    const published = port(kv.published, 'published');
    return { Protocol: kv.protocol || 'tcp', TargetPort: target, ...(published ? { PublishedPort: published } : {}), PublishMode: kv.mode || 'ingress' };
  }
  const m = /^(?:(\d*):)?(\d+)(?:\/(\w+))?$/.exec(v);
  if (!m) throw bad('expected [PUBLISHED:]TARGET[/PROTOCOL]');
  const published = port(m[1], 'published');
  return { Protocol: m[3] || 'tcp', TargetPort: port(m[2], 'target')!, ...(published ? { PublishedPort: published } : {}), PublishMode: 'ingress' };
}

/** `spread=node.labels.zone` as docker's placement preference. */
function preference(v: string): { Spread: { SpreadDescriptor: string } } {
  const m = /^spread=(.+)$/.exec(v);
  if (!m) throw invalidArgument(`invalid placement preference ${JSON.stringify(v)}: spread=DESCRIPTOR`);
  return { Spread: { SpreadDescriptor: m[1] } };
}

function keyValues(items: string[]): Record<string, string> {
  return Object.fromEntries(items.map((i) => (i.includes('=') ? [i.slice(0, i.indexOf('=')), i.slice(i.indexOf('=') + 1)] : [i, ''])));
}

function edit(labels: Record<string, string> | undefined, add: string[], rm: string[]): Record<string, string> {
  const out = { ...(labels ?? {}) };
  for (const k of rm) delete out[k];
  return { ...out, ...keyValues(add) };
}
