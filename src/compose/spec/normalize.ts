import * as os from 'node:os';
import * as path from 'node:path';
import { invalidArgument } from '../../base/errors';
import type { Build, Dependency, FileGrant, FileSource, Healthcheck, NetworkAttachment, NetworkDef, PortMapping, Service, VolumeDef, VolumeMount } from './model';
import { shellWords } from './shell-words';

type Raw = Record<string, any>;

const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** list_or_dict: `[K=V, K]` or `{K: V}` → a map; a bare key (or a null) is null. */
export function dictOf(v: unknown, nullable = true): Record<string, string | null> {
  if (!v) return {};
  if (Array.isArray(v)) {
    return Object.fromEntries(v.map((x: string) => {
      const i = x.indexOf('=');
      return i < 0 ? [x, nullable ? null : ''] : [x.slice(0, i), x.slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(v as Raw).map(([k, x]) => [k, x === null ? (nullable ? null : '') : String(x)]));
}

const listOf = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function words(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? shellWords(v) : (v as unknown[]).map(String);
}

const isPathLike = (s: string) => s.startsWith('.') || s.startsWith('/') || s.startsWith('~');

/** A host path of the file: `~` is the home, a relative path is the project's. */
export function hostPath(p: string, dir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(dir, p);
}

/** A port as `-p` writes it: `[ip:][published:]target[/proto]`, ranges allowed. */
export function parsePort(spec: string | number): PortMapping[] {
  let s = String(spec);
  let protocol = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) [s, protocol] = [s.slice(0, slash), s.slice(slash + 1)];
  let host_ip = '';
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(s);
  if (bracket) [, host_ip, s] = bracket;
  const parts = s.split(':');
  if (parts.length === 3) host_ip = parts.shift()!;
  if (parts.length > 2 || parts.length === 0) throw invalidArgument(`invalid port ${JSON.stringify(spec)}`);
  const [published, target] = parts.length === 2 ? parts : ['', parts[0]];
  const range = (r: string) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r);
    if (!m) throw invalidArgument(`invalid port ${JSON.stringify(spec)}`);
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    if (lo < 1 || hi > 65535 || hi < lo) throw invalidArgument(`invalid port range in ${JSON.stringify(spec)}`);
    return [lo, hi];
  };
  const [t0, t1] = range(target);
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw invalidArgument(`invalid protocol ${JSON.stringify(protocol)} in port ${JSON.stringify(spec)}`);
  if (t0 === t1) {
    if (published) range(published);
    return [{ target: t0, published, host_ip, protocol }];
  }
  const [p0, p1] = published ? range(published) : [0, 0];
  if (published && p1 - p0 !== t1 - t0) throw invalidArgument(`invalid port range in ${JSON.stringify(spec)}: the published and target ranges differ in length`);
  return Array.from({ length: t1 - t0 + 1 }, (_, i) => ({ target: t0 + i, published: published ? String(p0 + i) : '', host_ip, protocol }));
}

/** A volume as `-v` writes it: `[source:]target[:mode]`. */
export function parseVolume(spec: string, dir: string): VolumeMount {
  const parts = spec.split(':');
  let mode = '';
  // `target:mode` when the second part is no container path.
  if (parts.length === 3 || (parts.length === 2 && !parts[1].startsWith('/'))) mode = parts.pop()!;
  if (parts.length > 2) throw invalidArgument(`invalid volume ${JSON.stringify(spec)}`);
  const [src, target] = parts.length === 2 ? parts : [undefined, parts[0]];
  const read_only = mode.split(',').includes('ro');
  if (!src) return { type: 'volume', target, read_only };
  if (isPathLike(src)) return { type: 'bind', source: hostPath(src, dir), target, read_only, bind: { create_host_path: true } };
  return { type: 'volume', source: src, target, read_only };
}

function longVolume(v: Raw, dir: string): VolumeMount {
  const out: VolumeMount = { type: v.type, target: v.target, read_only: !!v.read_only };
  if (v.source) out.source = v.type === 'bind' ? hostPath(v.source, dir) : v.source;
  if (v.bind) out.bind = v.bind;
  if (v.volume) out.volume = v.volume;
  if (v.tmpfs) out.tmpfs = v.tmpfs;
  if (!['bind', 'volume', 'tmpfs'].includes(v.type)) throw invalidArgument(`volume type ${JSON.stringify(v.type)} is not supported (bind, volume or tmpfs)`);
  return out;
}

function dependencies(v: unknown): Record<string, Dependency> {
  if (!v) return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((s: string) => [s, { condition: 'service_started', required: true, restart: false }]));
  return Object.fromEntries(Object.entries(v as Raw).map(([k, d]) => [k, { condition: d.condition ?? 'service_started', required: d.required ?? true, restart: d.restart ?? false }]));
}

function networks(v: unknown): Record<string, NetworkAttachment> {
  if (!v) return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((n: string) => [n, { aliases: [], priority: 0 }]));
  return Object.fromEntries(Object.entries(v as Raw).map(([k, n]) => [k, { ...(n ?? {}), aliases: listOf(n?.aliases), priority: n?.priority ?? 0 }]));
}

function healthcheck(v: Raw | undefined): Healthcheck | undefined {
  if (!v) return undefined;
  const h: Healthcheck = { ...v } as Healthcheck;
  if (typeof v.test === 'string') h.test = ['CMD-SHELL', v.test];
  return h;
}

function build(v: unknown, dir: string): Build | undefined {
  if (v === undefined) return undefined;
  const b: Raw = typeof v === 'string' ? { context: v } : (v as Raw);
  const context = b.context ?? '.';
  return {
    ...b,
    context: /^[a-z]+:\/\/|^git@/.test(context) ? context : hostPath(context, dir),
    args: dictOf(b.args),
    labels: dictOf(b.labels, false) as Record<string, string>,
    cache_from: listOf(b.cache_from),
  };
}

function develop(v: Raw | undefined, dir: string): Service['develop'] {
  if (!v) return undefined;
  return {
    watch: ((v.watch ?? []) as Raw[]).map((t) => ({
      ...t,
      action: t.action,
      path: hostPath(t.path, dir),
      ignore: listOf(t.ignore),
      include: listOf(t.include),
      initial_sync: !!t.initial_sync,
      exec: t.exec ? { ...t.exec, command: words(t.exec.command) ?? [], environment: dictOf(t.exec.environment) } : undefined,
    })),
  };
}

/** A service's secrets (under /run/secrets) or configs (under /): short names, or source and target. */
function grants(v: unknown, under: string): FileGrant[] {
  return ((v ?? []) as (string | Raw)[]).map((g) => {
    const r: Raw = typeof g === 'string' ? { source: g } : g;
    const target = r.target ?? r.source;
    return { ...r, source: r.source, target: target.startsWith('/') ? target : path.posix.join(under, target) } as FileGrant;
  });
}

/** A top-level secret or config: a file (resolved against the project), a variable, or inline content. */
export function normalizeFileSource(key: string, raw: Raw | null, dir: string): FileSource {
  const r = raw ?? {};
  return { name: r.name ?? key, named: r.name !== undefined, external: !!r.external, ...(r.file !== undefined ? { file: hostPath(r.file, dir) } : {}), ...(r.environment !== undefined ? { environment: r.environment } : {}), ...(r.content !== undefined ? { content: r.content } : {}) };
}

/** One service of one file, in Berth's one shape per field; relative paths resolved against `dir`. */
export function normalizeService(name: string, raw: Raw, dir: string): Service {
  const s: Service = {
    ...raw,
    name,
    command: words(raw.command),
    entrypoint: words(raw.entrypoint),
    environment: dictOf(raw.environment),
    env_file: listOf(raw.env_file).map((f) => hostPath(f, dir)),
    labels: dictOf(raw.labels, false) as Record<string, string>,
    depends_on: dependencies(raw.depends_on),
    links: listOf(raw.links),
    volumes_from: listOf(raw.volumes_from),
    networks: networks(raw.networks),
    ports: (raw.ports ?? []).flatMap((p: unknown) => (typeof p === 'object' && p
      ? [{ target: (p as Raw).target, published: str((p as Raw).published), host_ip: str((p as Raw).host_ip), protocol: (p as Raw).protocol ?? 'tcp', ...((p as Raw).mode ? { mode: (p as Raw).mode } : {}) }]
      : parsePort(p as string))),
    expose: listOf(raw.expose),
    volumes: (raw.volumes ?? []).map((v: unknown) => (typeof v === 'string' ? parseVolume(v, dir) : longVolume(v as Raw, dir))),
    secrets: grants(raw.secrets, '/run/secrets'),
    configs: grants(raw.configs, '/'),
    healthcheck: healthcheck(raw.healthcheck),
    profiles: listOf(raw.profiles),
    build: build(raw.build, dir),
    extends: typeof raw.extends === 'string' ? { service: raw.extends } : raw.extends,
    develop: develop(raw.develop, dir),
  };
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}

/** What top-level networks and volumes share: the name (the project's prefix unless external or named), external, options, labels. */
function resourceOf(key: string, raw: Raw | null, project: string): VolumeDef {
  const r = raw ?? {};
  const external = typeof r.external === 'object' ? true : !!r.external;
  const extName = typeof r.external === 'object' ? r.external.name : undefined;
  return {
    ...r,
    name: (r.name ?? extName ?? (external ? key : `${project}_${key}`)) as string,
    external,
    driver_opts: dictOf(r.driver_opts, false) as Record<string, string>,
    labels: dictOf(r.labels, false) as Record<string, string>,
  };
}

export function normalizeNetwork(key: string, raw: Raw | null, project: string): NetworkDef {
  return { ...resourceOf(key, raw, project), internal: !!raw?.internal, enable_ipv6: !!raw?.enable_ipv6, attachable: !!raw?.attachable };
}

export function normalizeVolume(key: string, raw: Raw | null, project: string): VolumeDef {
  return resourceOf(key, raw, project);
}
