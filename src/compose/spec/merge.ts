import type { FileGrant, NetworkDef, PortMapping, Service, VolumeDef, VolumeMount } from './model';

/**
 * Compose's merge of a service from a later file (or an `extends`'s own
 * fields) over an earlier one, on normalised services:
 * - maps (environment, labels, depends_on, networks, ...) merge key by key, the later winning;
 * - command, entrypoint and the healthcheck's test are replaced whole;
 * - volumes are one per target, ports unique, other lists appended without repeats;
 * - other values are replaced; nested objects (build, deploy, logging, ...) merge.
 */
export function mergeService(base: Service, over: Service): Service {
  const out: Service = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = base[k];
    if (k === 'command' || k === 'entrypoint' || k === 'name') (out as Record<string, unknown>)[k] = v;
    else if (k === 'volumes') out.volumes = byKey(base.volumes ?? [], v as VolumeMount[], (m) => m.target);
    else if (k === 'ports') out.ports = byKey(base.ports ?? [], v as PortMapping[], portKey);
    else if (k === 'secrets' || k === 'configs') out[k] = byKey(base[k] ?? [], v as FileGrant[], (g) => g.target);
    else if (k === 'healthcheck') out.healthcheck = { ...base.healthcheck, ...(v as object) };
    else if (k === 'logging') out.logging = mergeLogging(b as Record<string, unknown> | undefined, v as Record<string, unknown>);
    else out[k] = mergeValue(b, v);
  }
  return out;
}

const portKey = (p: PortMapping) => `${p.host_ip}:${p.published}:${p.target}/${p.protocol}`;

function byKey<T>(a: T[], b: T[], key: (x: T) => string): T[] {
  const m = new Map<string, T>();
  for (const x of [...a, ...b]) m.set(key(x), x);
  return [...m.values()];
}

/** A different driver replaces the options; the same one merges them. */
function mergeLogging(a: Record<string, unknown> | undefined, b: Record<string, unknown>): Record<string, unknown> {
  if (!a || (b.driver && a.driver && b.driver !== a.driver)) return b;
  return { ...a, ...b, options: { ...(a.options as object), ...(b.options as object) } };
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeValue(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) {
    const seen = new Set(a.map((x) => JSON.stringify(x)));
    return [...a, ...b.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  if (isPlain(a) && isPlain(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? mergeValue(a[k], v) : v;
    return out;
  }
  return b;
}

/** Top-level networks and volumes of a later file override an earlier one's field by field. */
export function mergeResource<T extends NetworkDef | VolumeDef>(a: T | undefined, b: T): T {
  return a ? (mergeValue(a, b) as T) : b;
}
