// docker's `service create` and `service update` flags as the Engine API's ServiceSpec (pure).
import { invalidArgument } from '../base/errors';
import { bool, type FlagSpec, list, type Parsed, str } from './flags';
import { ramInBytes } from './resource-flags';
import { durationFlag, HEALTH_FLAGS, healthcheck, intFlag } from './value-flags';

/** The parts of swarm's ServiceSpec these flags set. */
export interface ServiceSpecBody {
  Name?: string;
  Labels?: Record<string, string>;
  TaskTemplate?: {
    ContainerSpec?: {
      Image?: string; Command?: string[]; Args?: string[]; Env?: string[]; Dir?: string; User?: string; Labels?: Record<string, string>;
      StopGracePeriod?: number; Healthcheck?: Record<string, unknown>;
    };
    Resources?: { Limits?: { NanoCPUs?: number; MemoryBytes?: number }; Reservations?: { NanoCPUs?: number; MemoryBytes?: number } };
    RestartPolicy?: { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number };
    Placement?: { Constraints?: string[]; Preferences?: { Spread: { SpreadDescriptor: string } }[]; MaxReplicas?: number };
    ForceUpdate?: number;
  };
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: UpdateConfigBody;
  RollbackConfig?: UpdateConfigBody;
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
  // Berth never asks a registry for a digest at create: accepted, as docker's CLI sends it.
  b('no-resolve-image'), b('with-registry-auth'),
];

export const CREATE_FLAGS: FlagSpec[] = [...COMMON, s('name'), s('mode'), l('env', 'e'), l('label', 'l'), l('container-label'), l('constraint'), l('placement-pref'), s('entrypoint')];

export const UPDATE_FLAGS: FlagSpec[] = [
  ...COMMON, s('image'), s('args'), l('env-add'), l('env-rm'), l('label-add'), l('label-rm'), l('container-label-add'), l('container-label-rm'),
  l('constraint-add'), l('constraint-rm'), l('placement-pref-add'), l('placement-pref-rm'), b('force'), b('rollback'),
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
    },
    Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: 1 } },
  };
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
  return applyCommon(spec, p);
}

/** What both commands set the same way, where a flag is given. */
function applyCommon(spec: ServiceSpecBody, p: Parsed): ServiceSpecBody {
  if (bool(p, 'with-registry-auth')) throw invalidArgument('--with-registry-auth: Berth\'s cluster does not keep registry credentials for services yet (nodes pull anonymously)');
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
