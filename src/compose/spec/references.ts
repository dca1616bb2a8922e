import { invalidArgument } from '../../base/errors';
import { edgesOf, ServiceGraph } from './graph';
import type { Project } from './model';

/**
 * What a project's services name must exist: services they depend on (a
 * dependency that is not `required` may be missing), networks, named
 * volumes; and the graph must have no cycle. Errors before anything is made.
 */
export function checkReferences(p: Project): void {
  for (const s of Object.values(p.services)) {
    for (const e of edgesOf(s)) {
      if (p.services[e.to]) continue;
      if (!e.required) {
        delete s.depends_on[e.to];
        continue;
      }
      const off = p.disabled[e.to];
      if (off) throw invalidArgument(`service "${s.name}" depends on service "${e.to}", whose profiles (${off.profiles.join(', ')}) are not enabled: use --profile, or name it`);
      throw invalidArgument(`service "${s.name}" depends on undefined service "${e.to}" (in ${e.via})`);
    }
    for (const n of Object.keys(s.networks)) {
      if (!p.networks[n]) throw invalidArgument(`service "${s.name}" refers to undefined network ${n}`);
    }
    for (const v of s.volumes) {
      if (v.type === 'volume' && v.source && !p.volumes[v.source]) throw invalidArgument(`service "${s.name}" refers to undefined volume ${v.source}`);
    }
    for (const kind of ['secrets', 'configs'] as const) {
      for (const g of s[kind]) {
        const src = p[kind][g.source];
        const what = kind.slice(0, -1);
        if (!src) throw invalidArgument(`service "${s.name}" refers to undefined ${what} ${g.source}`);
        if (src.external) throw invalidArgument(`${what} ${g.source} is external: external ${kind} live in a swarm, not on one host; give it a file, environment or content`);
        if (src.file === undefined && src.environment === undefined && src.content === undefined) throw invalidArgument(`${what} ${g.source} has no file, environment or content`);
      }
    }
    if (s.network_mode && Object.keys(s.networks).length) throw invalidArgument(`service "${s.name}" declares network_mode and networks: they are exclusive`);
    if (!s.image && !s.build) throw invalidArgument(`service "${s.name}" has neither an image nor a build context`);
  }
  publishedOnce(p);
  new ServiceGraph(Object.values(p.services));
}

/** Two services cannot publish one host port: known from the files, so refused before anything is made. */
function publishedOnce(p: Project): void {
  const owner = new Map<string, string>();
  for (const s of Object.values(p.services)) {
    for (const port of s.ports) {
      if (!/^\d+$/.test(port.published)) continue;
      const key = `${port.published}/${port.protocol}`;
      const ip = port.host_ip || '0.0.0.0';
      for (const [k, other] of owner) {
        const [oip, okey] = k.split(' ');
        if (okey === key && other !== s.name && (ip === oip || ip === '0.0.0.0' || oip === '0.0.0.0')) {
          throw invalidArgument(`services "${other}" and "${s.name}" both publish host port ${key}`);
        }
      }
      owner.set(`${ip} ${key}`, s.name);
    }
  }
}

/** What these services need before their containers can be made: each secret or config from a variable must have found it set. */
export function checkGrants(p: Project, services: Iterable<string>): void {
  for (const n of services) {
    for (const kind of ['secrets', 'configs'] as const) {
      for (const g of p.services[n][kind]) {
        const src = p[kind][g.source];
        if (src.environment !== undefined && src.content === undefined) throw invalidArgument(`${kind.slice(0, -1)} ${g.source} of service "${n}" comes from the variable ${src.environment}, which is not set`);
      }
    }
  }
}
