import * as fs from 'node:fs';
import { invalidArgument } from '../base/errors';
import { parseGoDuration } from '../base/duration';
import { parseSize } from '../base/sizes';
import { type ApiClient, DaemonError } from '../client/client';
import type { FileSource, Project, Service } from './spec/model';

/** docker's label on a stack's services, networks, secrets and configs: the stack's name. */
export const STACK_LABEL = 'com.docker.stack.namespace';

type Json = Record<string, unknown>;

const nanos = (d: unknown, what: string): number | undefined => {
  if (d === undefined || d === null) return undefined;
  const ns = parseGoDuration(String(d));
  if (ns === undefined) throw invalidArgument(`invalid duration ${JSON.stringify(d)} for ${what}`);
  return ns;
};
const bytes = (v: unknown): number | undefined => (v === undefined ? undefined : typeof v === 'number' ? v : parseSize(String(v)));
const cpus = (v: unknown): number | undefined => (v === undefined ? undefined : Math.round(Number(v) * 1e9));

interface UpdateConfig {
  parallelism?: number;
  delay?: string;
  failure_action?: string;
  monitor?: string;
  max_failure_ratio?: number;
  order?: string;
}

/** compose's deploy section, as a stack reads it. */
interface Deploy {
  mode?: 'replicated' | 'global';
  replicas?: number;
  labels?: Record<string, string> | string[];
  endpoint_mode?: string;
  resources?: { limits?: { cpus?: string | number; memory?: string | number }; reservations?: { cpus?: string | number; memory?: string | number } };
  restart_policy?: { condition?: string; delay?: string; max_attempts?: number; window?: string };
  placement?: { constraints?: string[]; preferences?: { spread: string }[]; max_replicas_per_node?: number };
  update_config?: UpdateConfig;
  rollback_config?: UpdateConfig;
}

function updateConfig(u: UpdateConfig | undefined, what: string): Json | undefined {
  if (!u) return undefined;
  return {
    Parallelism: u.parallelism ?? 1, Delay: nanos(u.delay, `${what}.delay`), FailureAction: u.failure_action, Monitor: nanos(u.monitor, `${what}.monitor`),
    MaxFailureRatio: u.max_failure_ratio, Order: u.order,
  };
}

const labelMap = (v: Record<string, string> | string[] | undefined): Record<string, string> =>
  Array.isArray(v) ? Object.fromEntries(v.map((x) => [x.split('=')[0], x.slice(x.indexOf('=') + 1)])) : (v ?? {});

/** The name a stack gives its secret or config: its own `name:` (even one equal to its key), else STACK_KEY (an external one's as it is). */
export function objectName(stack: string, key: string, src: FileSource): string {
  return src.external || src.named ? src.name : `${stack}_${key}`;
}

/**
 * A compose service as a swarm service of the stack (what docker stack
 * deploy sends): `deploy:` for the replicas, resources, placement, restart
 * and update settings; its networks with compose's name and aliases; its
 * volumes, secrets and configs under the stack's names.
 */
export function stackService(p: Project, s: Service): Json {
  // The loader names a built image PROJECT-SERVICE; a stack's nodes pull, so that name leads nowhere.
  if (s.build && (!s.image || s.image === `${p.name}-${s.name}`)) throw invalidArgument(`service ${s.name}: a stack runs images: give it an image (build it and push it first)`);
  if (s.network_mode) throw invalidArgument(`service ${s.name}: network_mode is not for a stack (its services join the stack's networks)`);
  const d = (s.deploy ?? {}) as Deploy;
  const ns = { [STACK_LABEL]: p.name };
  const h = s.healthcheck;
  const rp = d.restart_policy;
  const r = d.resources ?? {};
  const global = d.mode === 'global';
  if (global && d.replicas !== undefined) throw invalidArgument(`service ${s.name}: replicas can only be used with replicated mode`);
  return {
    Name: `${p.name}_${s.name}`,
    Labels: { ...labelMap(d.labels), ...ns },
    TaskTemplate: {
      ContainerSpec: {
        Image: s.image,
        ...(s.entrypoint ? { Command: s.entrypoint } : {}), ...(s.command ? { Args: s.command } : {}),
        Env: Object.entries(s.environment).flatMap(([k, v]) => (v === null ? [] : [`${k}=${v}`])),
        Labels: { ...s.labels, ...ns },
        ...(s.working_dir ? { Dir: s.working_dir } : {}), ...(s.user ? { User: s.user } : {}),
        ...(s.stop_grace_period !== undefined ? { StopGracePeriod: nanos(s.stop_grace_period, 'stop_grace_period') } : {}),
        ...(h ? { Healthcheck: h.disable ? { Test: ['NONE'] } : { Test: h.test, Interval: nanos(h.interval, 'healthcheck.interval'), Timeout: nanos(h.timeout, 'healthcheck.timeout'), StartPeriod: nanos(h.start_period, 'healthcheck.start_period'), Retries: h.retries } } : {}),
        Mounts: s.volumes.map((v) => ({
          Type: v.type, ...(v.source ? { Source: v.type === 'volume' ? p.volumes[v.source].name : v.source } : {}), Target: v.target, ReadOnly: v.read_only,
          ...(v.type === 'volume' && v.source ? { VolumeOptions: { Labels: ns, ...(v.volume?.nocopy ? { NoCopy: true } : {}) } } : {}),
          ...(v.tmpfs?.size !== undefined ? { TmpfsOptions: { SizeBytes: bytes(v.tmpfs.size) } } : {}),
        })),
        Secrets: s.secrets.map((g) => ({ SecretName: objectName(p.name, g.source, p.secrets[g.source]), File: fileOf(g) })),
        Configs: s.configs.map((g) => ({ ConfigName: objectName(p.name, g.source, p.configs[g.source]), File: fileOf(g) })),
      },
      Resources: {
        Limits: { NanoCPUs: cpus(r.limits?.cpus), MemoryBytes: bytes(r.limits?.memory) },
        Reservations: { NanoCPUs: cpus(r.reservations?.cpus), MemoryBytes: bytes(r.reservations?.memory) },
      },
      ...(rp ? { RestartPolicy: { Condition: rp.condition, Delay: nanos(rp.delay, 'restart_policy.delay'), MaxAttempts: rp.max_attempts, Window: nanos(rp.window, 'restart_policy.window') } } : {}),
      Placement: {
        Constraints: d.placement?.constraints ?? [], Preferences: (d.placement?.preferences ?? []).map((x) => ({ Spread: { SpreadDescriptor: x.spread } })),
        ...(d.placement?.max_replicas_per_node ? { MaxReplicas: d.placement.max_replicas_per_node } : {}),
      },
      Networks: Object.entries(s.networks).map(([key, a]) => ({ Target: p.networks[key].name, Aliases: [s.name, ...a.aliases] })),
    },
    Mode: global ? { Global: {} } : { Replicated: { Replicas: d.replicas ?? s.scale ?? 1 } },
    ...(d.update_config ? { UpdateConfig: updateConfig(d.update_config, 'update_config') } : {}),
    ...(d.rollback_config ? { RollbackConfig: updateConfig(d.rollback_config, 'rollback_config') } : {}),
    EndpointSpec: {
      Mode: d.endpoint_mode ?? 'vip',
      Ports: s.ports.map((x) => {
        if (x.published.includes('-')) throw invalidArgument(`service ${s.name}: a published port range (${x.published}) is not for a stack`);
        return { Protocol: x.protocol, TargetPort: x.target, ...(x.published ? { PublishedPort: Number(x.published) } : {}), PublishMode: x.mode ?? 'ingress' };
      }),
    },
  };
}

function fileOf(g: { target: string; uid?: string; gid?: string; mode?: number }) {
  return { Name: g.target, UID: g.uid ?? '0', GID: g.gid ?? '0', Mode: g.mode ?? 0o444 };
}

/** A secret's or config's content, from its file, its variable or inline. */
function contentOf(kind: string, key: string, src: FileSource): Buffer {
  if (src.file !== undefined) return fs.readFileSync(src.file);
  if (src.content !== undefined) return Buffer.from(src.content);
  throw invalidArgument(`${kind} ${key}: no content (its file, its variable ${src.environment ?? ''} unset, or external)`);
}

interface Listed { ID: string; Spec: { Name: string }; Version: { Index: number } }

/**
 * `stack deploy`: the stack's networks (overlay), secrets and configs
 * made where missing, then each service created, or updated to its spec
 * (new tasks only where what they are made from changed). With `prune`,
 * the stack's services the files no longer have go. What it does, a line
 * each to `say`, in docker's words.
 */
export async function deployStack(api: ApiClient, p: Project, o: { prune?: boolean }, say: (line: string) => void): Promise<void> {
  const label = `${STACK_LABEL}=${p.name}`;
  const specs = Object.values(p.services).map((s) => stackService(p, s));
  const used = new Set(Object.values(p.services).flatMap((s) => Object.keys(s.networks)));
  const nets = await api.json<{ Name: string }[]>('GET', '/networks', { query: { filters: JSON.stringify({ label: [label] }) } });
  for (const key of [...used].sort()) {
    const n = p.networks[key];
    if (n.external) {
      await api.json('GET', `/networks/${encodeURIComponent(n.name)}`).catch((e) => {
        throw e instanceof DaemonError && e.code === 'not_found' ? invalidArgument(`network "${n.name}" is declared as external, but could not be found`) : e;
      });
      continue;
    }
    if (nets.some((x) => x.Name === n.name)) continue;
    say(`Creating network ${n.name}`);
    await api.json('POST', '/networks/create', {
      body: { Name: n.name, Driver: n.driver ?? 'overlay', Internal: n.internal, Attachable: n.attachable, Labels: { ...n.labels, [STACK_LABEL]: p.name }, Options: n.driver_opts, ...(n.ipam?.config?.length ? { IPAM: { Driver: 'default', Config: n.ipam.config.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway })) } } : {}) },
    });
  }
  for (const kind of ['secret', 'config'] as const) {
    const all = kind === 'secret' ? p.secrets : p.configs;
    const keys = new Set(Object.values(p.services).flatMap((s) => (kind === 'secret' ? s.secrets : s.configs).map((g) => g.source)));
    const have = await api.json<Listed[]>('GET', `/${kind}s`);
    for (const key of [...keys].sort()) {
      const src = all[key];
      const name = objectName(p.name, key, src);
      const found = have.some((x) => x.Spec.Name === name);
      if (src.external) {
        if (!found) throw invalidArgument(`${kind} "${name}" is declared as external, but could not be found`);
        continue;
      }
      if (found) continue;
      say(`Creating ${kind} ${name}`);
      await api.json('POST', `/${kind}s/create`, { body: { Name: name, Labels: { [STACK_LABEL]: p.name }, Data: contentOf(kind, key, src).toString('base64') } });
    }
  }
  const current = await api.json<(Listed & { Spec: Json })[]>('GET', '/services', { query: { filters: JSON.stringify({ label: [label] }) } });
  for (const spec of specs) {
    const name = spec.Name as string;
    const cur = current.find((x) => x.Spec.Name === name);
    if (!cur) {
      say(`Creating service ${name}`);
      await api.json('POST', '/services/create', { body: spec });
      continue;
    }
    say(`Updating service ${name} (id: ${cur.ID})`);
    await api.json('POST', `/services/${cur.ID}/update`, { query: { version: cur.Version.Index }, body: spec });
  }
  if (o.prune) {
    for (const x of current.filter((c) => !specs.some((s) => s.Name === c.Spec.Name))) {
      say(`Removing service ${x.Spec.Name}`);
      await api.call('DELETE', `/services/${x.ID}`);
    }
  }
}

/** `stack rm`: the stack's services, then its networks, secrets and configs (docker's order). */
export async function removeStack(api: ApiClient, name: string, say: (line: string) => void): Promise<number> {
  const filters = { query: { filters: JSON.stringify({ label: [`${STACK_LABEL}=${name}`] }) } };
  let found = 0;
  for (const [kind, path] of [['service', '/services'], ['network', '/networks'], ['secret', '/secrets'], ['config', '/configs']] as const) {
    const list = await api.json<{ ID?: string; Id?: string; Name?: string; Spec?: { Name: string } }[]>('GET', path, filters);
    for (const x of list) {
      found++;
      say(`Removing ${kind} ${x.Spec?.Name ?? x.Name ?? ''}`);
      await api.call('DELETE', `${path}/${x.ID ?? x.Id}`);
    }
  }
  return found;
}
