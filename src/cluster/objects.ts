import { invalidArgument, notFound } from '../base/errors';
import { labelMatches } from '../engine/system/present';
import { swarmId } from './core/ids';
import type { ClusterObject } from './core/model';
import type { ObjectKind, ObjectRecord, Snapshot } from './store/store';

/** swarm's bound on a secret's or config's content. */
export const MAX_OBJECT_BYTES = 500 * 1024;

/** docker's create body of a secret or config. */
export interface ObjectSpec {
  Name?: string;
  Labels?: Record<string, string> | null;
  Data?: string;
  Driver?: unknown;
  Templating?: unknown;
}

/** A new secret or config from docker's body, checked as swarm checks it. */
export function planObject(kind: ObjectKind, spec: ObjectSpec): ClusterObject {
  const name = spec.Name ?? '';
  if (name.length > 64 || !/^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/.test(name)) {
    throw invalidArgument(`rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]: ${JSON.stringify(name)}`);
  }
  if (spec.Driver) throw invalidArgument(`${kind} drivers (external stores) are not supported`);
  if (spec.Templating) throw invalidArgument(`templated ${kind}s are not supported`);
  const data = Buffer.from(spec.Data ?? '', 'base64');
  if (spec.Data && data.toString('base64').replace(/=+$/, '') !== spec.Data.replace(/\s/g, '').replace(/=+$/, '')) throw invalidArgument(`invalid ${kind} data: not base64`);
  if (kind === 'secret' && !data.length) throw invalidArgument('rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 500 KiB');
  if (data.length > MAX_OBJECT_BYTES) throw invalidArgument(`rpc error: code = InvalidArgument desc = ${kind} data must be larger than 0 and less than 500 KiB`);
  const now = new Date().toISOString();
  return { id: swarmId(), name, labels: spec.Labels ?? {}, data: data.toString('base64'), createdAt: now, updatedAt: now };
}

export function objectsOf(snap: Snapshot, kind: ObjectKind): ObjectRecord[] {
  return kind === 'secret' ? snap.secrets : snap.configs;
}

/** One by id, name or unique id prefix. */
export function findObject(all: ObjectRecord[], kind: ObjectKind, ref: string): ObjectRecord {
  const prefixed = all.filter((o) => o.id.startsWith(ref));
  const o = all.find((x) => x.id === ref) ?? all.find((x) => x.name === ref) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
  if (!o) throw notFound(`${kind} ${ref} not found`);
  return o;
}

/** The services whose current or previous spec gives it to their tasks (it stays while one does). */
export function objectUsers(snap: Snapshot, kind: ObjectKind, id: string): string[] {
  const uses = (c: { files?: { kind: string; id: string }[] }) => (c.files ?? []).some((f) => f.kind === kind && f.id === id);
  return snap.services.filter((s) => uses(s.spec.container) || (s.previous && uses(s.previous.spec.container))).map((s) => s.spec.name);
}

/** docker's filters on secrets and configs: id, name, names (exact), label. */
export function filterObjects(list: ObjectRecord[], f: Record<string, string[]>): ObjectRecord[] {
  for (const k of Object.keys(f)) if (!['id', 'name', 'names', 'label'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
  return list
    .filter((o) => !f.id || f.id.some((x) => o.id.startsWith(x)))
    .filter((o) => !f.name || f.name.some((x) => o.name.startsWith(x)))
    .filter((o) => !f.names || f.names.includes(o.name))
    .filter((o) => !f.label || f.label.every((l) => labelMatches(o.labels, l)));
}

/** As docker's API shows one: a config's data is shown, a secret's never. */
export function toDockerObject(kind: ObjectKind, o: ObjectRecord) {
  return {
    ID: o.id, Version: { Index: o.index }, CreatedAt: o.createdAt, UpdatedAt: o.updatedAt,
    Spec: { Name: o.name, Labels: o.labels, ...(kind === 'config' ? { Data: o.data } : {}) },
  };
}
