import { invalidArgument } from '../../base/errors';
import type { ClusterNode } from './model';

/** One placement constraint, swarm's syntax: `node.labels.zone==east`, `node.hostname!=db1`, `node.role==manager`. */
export interface Constraint {
  key: string;
  equal: boolean;
  value: string;
}

const KEYS = /^(node\.id|node\.hostname|node\.role|node\.platform\.os|node\.platform\.arch|node\.labels\.[^=!\s]+)$/;

export function parseConstraint(text: string): Constraint {
  const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$/.exec(text);
  if (!m) throw invalidArgument(`invalid constraint ${JSON.stringify(text)}: expected KEY==VALUE or KEY!=VALUE`);
  const [, key, op, value] = m;
  if (!KEYS.test(key)) throw invalidArgument(`invalid constraint ${JSON.stringify(text)}: unknown key ${key} (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME)`);
  if (key === 'node.role' && value !== 'manager' && value !== 'worker') throw invalidArgument(`invalid constraint ${JSON.stringify(text)}: node.role is manager or worker`);
  return { key, equal: op === '==', value };
}

/** The node's value for a constraint's key (undefined: it has none, as a missing label). */
export function nodeValue(n: ClusterNode, key: string): string | undefined {
  if (key === 'node.id') return n.id;
  if (key === 'node.hostname') return n.hostname;
  if (key === 'node.role') return n.role;
  if (key === 'node.platform.os') return 'linux';
  if (key === 'node.platform.arch') return 'x86_64';
  return n.labels[key.slice('node.labels.'.length)];
}

/** swarm's rule: `==` needs the value; `!=` holds where the value differs or is missing. Labels compare as written, other keys ignoring case. */
export function satisfies(n: ClusterNode, c: Constraint): boolean {
  const v = nodeValue(n, c.key);
  const same = v !== undefined && (c.key.startsWith('node.labels.') ? v === c.value : v.toLowerCase() === c.value.toLowerCase());
  return c.equal ? same : !same;
}

/** A spread preference, `spread=node.labels.zone`: the label whose values the replicas spread over. */
export function parsePreference(text: string): string {
  const m = /^spread=(node\.labels\.[^=\s]+)$/.exec(text.trim());
  if (!m) throw invalidArgument(`invalid placement preference ${JSON.stringify(text)}: expected spread=node.labels.NAME`);
  return m[1].slice('node.labels.'.length);
}
