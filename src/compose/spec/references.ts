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
    if (s.network_mode && Object.keys(s.networks).length) throw invalidArgument(`service "${s.name}" declares network_mode and networks: they are exclusive`);
    if (!s.image && !s.build) throw invalidArgument(`service "${s.name}" has neither an image nor a build context`);
  }
  new ServiceGraph(Object.values(p.services));
}
