import { BerthError, conflict, invalidArgument } from '../base/errors';
import { type ApiClient, demux } from '../client/client';
import { COMPOSE_VERSION, Label } from './labels';
import type { NetworkDef, Project, VolumeDef } from './spec/model';

/** A container as the list endpoint shows it, with compose's labels. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Labels: Record<string, string>;
}

/** Containers by their compose service. */
export function byService(containers: ContainerSummary[]): Map<string, ContainerSummary[]> {
  const out = new Map<string, ContainerSummary[]>();
  for (const c of containers) out.set(c.Labels[Label.service], [...(out.get(c.Labels[Label.service]) ?? []), c]);
  return out;
}

export const nameOf = (c: ContainerSummary) => c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
export const numberOf = (c: ContainerSummary) => Number(c.Labels[Label.number] ?? 0);

/** The project's containers (one-off `run` containers only when asked), oldest number first. */
export async function projectContainers(api: ApiClient, project: string, o: { all?: boolean; oneoff?: boolean } = {}): Promise<ContainerSummary[]> {
  const label = [`${Label.project}=${project}`];
  if (!o.oneoff) label.push(`${Label.oneoff}=False`);
  const list = await api.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: o.all ?? true, filters: JSON.stringify({ label }) } });
  return list.sort((a, b) => (a.Labels[Label.service] ?? '').localeCompare(b.Labels[Label.service] ?? '') || numberOf(a) - numberOf(b));
}

const notFound = (e: unknown) => e instanceof BerthError && e.code === 'not_found';

/** A network's or volume's inspect, or undefined when there is none of that name. */
function labelsOf(api: ApiClient, path: string): Promise<{ Labels?: Record<string, string> } | undefined> {
  return api.json<{ Labels?: Record<string, string> }>('GET', path).catch((e) => {
    if (notFound(e)) return undefined;
    throw e;
  });
}

/**
 * The project's networks: made with compose's labels where missing; an
 * existing one must be this project's (its labels say so), an external one
 * must exist. Returns what it made, so a failed `up` can say so.
 */
export async function ensureNetworks(api: ApiClient, p: Project, used: Set<string>): Promise<string[]> {
  const made: string[] = [];
  for (const [key, n] of Object.entries(p.networks)) {
    if (!used.has(key)) continue;
    const found = await labelsOf(api, `/networks/${encodeURIComponent(n.name)}`);
    if (n.external) {
      if (!found) throw invalidArgument(`network ${n.name} declared as external, but could not be found`);
      continue;
    }
    if (found) {
      const l = found.Labels ?? {};
      if (l[Label.project] !== p.name || l[Label.network] !== key) throw conflict(`network ${n.name} was found but has incorrect label ${Label.network} set to "${l[Label.network] ?? ''}" (it is not this project's: remove it or mark it external)`);
      continue;
    }
    await api.json('POST', '/networks/create', { body: networkBody(p, key, n) });
    made.push(n.name);
  }
  return made;
}

function networkBody(p: Project, key: string, n: NetworkDef): Record<string, unknown> {
  return {
    Name: n.name,
    CheckDuplicate: true,
    Driver: n.driver ?? 'bridge',
    Options: n.driver_opts,
    Internal: n.internal,
    EnableIPv6: n.enable_ipv6,
    Attachable: n.attachable,
    IPAM: n.ipam ? { Driver: n.ipam.driver ?? 'default', Config: (n.ipam.config ?? []).map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range })) } : undefined,
    Labels: { ...n.labels, [Label.project]: p.name, [Label.network]: key, [Label.version]: COMPOSE_VERSION },
  };
}

/** The project's named volumes, as networks: made where missing, checked where present. */
export async function ensureVolumes(api: ApiClient, p: Project, used: Set<string>): Promise<string[]> {
  const made: string[] = [];
  for (const [key, v] of Object.entries(p.volumes)) {
    if (!used.has(key)) continue;
    const found = await labelsOf(api, `/volumes/${encodeURIComponent(v.name)}`);
    if (v.external) {
      if (!found) throw invalidArgument(`external volume "${v.name}" not found`);
      continue;
    }
    if (found) {
      const l = found.Labels ?? {};
      if (l[Label.project] && (l[Label.project] !== p.name || l[Label.volume] !== key)) throw conflict(`volume ${v.name} already exists but was created for project "${l[Label.project]}" (expected "${p.name}")`);
      continue;
    }
    await api.json('POST', '/volumes/create', { body: volumeBody(p, key, v) });
    made.push(v.name);
  }
  return made;
}

function volumeBody(p: Project, key: string, v: VolumeDef): Record<string, unknown> {
  return { Name: v.name, Driver: v.driver ?? 'local', DriverOpts: v.driver_opts, Labels: { ...v.labels, [Label.project]: p.name, [Label.volume]: key, [Label.version]: COMPOSE_VERSION } };
}

/** The project's networks and volumes that exist, by their labels (a project can be taken down without its files). */
export async function labelled(api: ApiClient, kind: 'networks' | 'volumes', project: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${Label.project}=${project}`] });
  if (kind === 'networks') return (await api.json<{ Name: string }[]>('GET', '/networks', { query: { filters } })).map((n) => n.Name);
  return ((await api.json<{ Volumes: { Name: string }[] | null }>('GET', '/volumes', { query: { filters } })).Volumes ?? []).map((v) => v.Name);
}

/** A failed container's last lines of output, for the report (`; its last output: ...`). */
export async function lastOutput(api: ApiClient, id: string): Promise<string> {
  try {
    const res = await api.request('GET', `/containers/${id}/logs`, { query: { stdout: true, stderr: true, tail: 3 } });
    const info = await api.json<{ Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
    let text = '';
    if (info.Config.Tty) for await (const c of res) text += String(c);
    else for await (const fr of demux(res as AsyncIterable<Buffer>)) text += fr.data.toString();
    const lines = text.trim().split('\n').map((l) => l.trim()).filter(Boolean);
    return lines.length ? `; its last output: ${lines.join(' / ').slice(0, 300)}` : '';
  } catch {
    return ''; // the container is gone or its log driver keeps nothing: the report goes without
  }
}
