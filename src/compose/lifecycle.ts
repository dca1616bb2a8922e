import { BerthError, errorMessage } from '../base/errors';
import { Limiter } from '../base/limiter';
import type { ApiClient } from '../client/client';
import { Label } from './labels';
import type { Progress } from './progress';
import { byService, type ContainerSummary, labelled, nameOf, projectContainers } from './resources';
import { ServiceGraph } from './spec/graph';
import type { Project } from './spec/model';

/**
 * Acts on a project's containers in dependency order, each service as soon
 * as it may: to stop, once every service that needs it is done; to start,
 * once everything it needs is. Without the project's files (`down -p
 * NAME`), or for services the files do not know, at once. Errors are
 * collected and the rest goes on.
 */
export async function inOrder(containers: ContainerSummary[], p: Project | undefined, order: 'stop' | 'start', parallel: number, act: (c: ContainerSummary) => Promise<void>): Promise<string[]> {
  const graph = p ? new ServiceGraph(Object.values({ ...p.disabled, ...p.services })) : undefined;
  const known = new Set(graph?.names ?? []);
  const by = byService(containers);
  const limiter = new Limiter(parallel);
  const errors: string[] = [];
  const done = new Map<string, Promise<void>>();
  const run = (svc: string): Promise<void> => {
    let r = done.get(svc);
    if (!r) {
      const first = !known.has(svc) ? [] : order === 'stop' ? graph!.dependents(svc) : graph!.needs(svc).map((e) => e.to);
      r = Promise.all(first.map(run)).then(() => Promise.all((by.get(svc) ?? []).map((c) => limiter.run(() => act(c).catch((e) => void errors.push(`${nameOf(c)}: ${errorMessage(e)}`)))))).then(() => undefined);
      done.set(svc, r);
    }
    return r;
  };
  await Promise.all([...by.keys()].map(run));
  return errors;
}

const gone = (e: unknown) => e instanceof BerthError && e.code === 'not_found';

export interface DownOptions {
  volumes?: boolean;
  removeOrphans?: boolean;
  rmi?: 'all' | 'local';
  timeout?: number;
  parallel: number;
}

/**
 * `down`: the project's containers stopped and removed, dependents first,
 * then its networks (and with -v its volumes): exactly what the project
 * made, found by compose's labels, so `down -p NAME` works without files.
 */
export async function down(api: ApiClient, name: string, p: Project | undefined, o: DownOptions, progress: Progress): Promise<string[]> {
  const containers = await projectContainers(api, name, { oneoff: true });
  const known = p ? new Set([...Object.keys(p.services), ...Object.keys(p.disabled)]) : undefined;
  const orphans = known ? containers.filter((c) => !known.has(c.Labels[Label.service])) : [];
  const removing = o.removeOrphans || !known ? containers : containers.filter((c) => known.has(c.Labels[Label.service]));
  const errors = await inOrder(removing, p, 'stop', o.parallel, async (c) => {
    const n = nameOf(c);
    if (c.State === 'running' || c.State === 'paused' || c.State === 'restarting') {
      progress({ kind: 'Container', name: n, step: 'Stopping' });
      await api.call('POST', `/containers/${c.Id}/stop`, { query: { t: o.timeout } }).catch((e) => { if (!gone(e)) throw e; });
      progress({ kind: 'Container', name: n, step: 'Stopped' });
    }
    progress({ kind: 'Container', name: n, step: 'Removing' });
    await api.call('DELETE', `/containers/${c.Id}`, { query: { force: true, v: o.volumes } }).catch((e) => { if (!gone(e)) throw e; });
    progress({ kind: 'Container', name: n, step: 'Removed' });
  });
  if (!o.removeOrphans && orphans.length) {
    progress({ kind: 'Container', name: orphans.map(nameOf).join(', '), step: 'Orphaned', detail: 'not in the files: kept (--remove-orphans removes them)' });
  }
  // Networks still used by kept orphans stay (their removal fails and is reported).
  const remove = async (kind: 'Network' | 'Volume' | 'Image', name: string, path: string) => {
    try {
      await api.call('DELETE', path);
      progress({ kind, name, step: 'Removed' });
    } catch (e) {
      if (!gone(e)) errors.push(`${kind.toLowerCase()} ${name}: ${errorMessage(e)}`);
    }
  };
  for (const n of await labelled(api, 'networks', name)) await remove('Network', n, `/networks/${encodeURIComponent(n)}`);
  if (o.volumes) for (const v of await labelled(api, 'volumes', name)) await remove('Volume', v, `/volumes/${encodeURIComponent(v)}`);
  if (o.rmi) {
    // local: the images compose named itself (built services without an image: of their own).
    const services = Object.values(p?.services ?? {});
    const images = new Set(o.rmi === 'all'
      ? [...removing.map((c) => c.Image), ...services.map((s) => s.image!).filter(Boolean)]
      : services.filter((s) => s.build && s.image === `${name}-${s.name}`).map((s) => s.image!));
    for (const i of images) await remove('Image', i, `/images/${i}`);
  }
  return errors;
}

export type Action = 'stop' | 'start' | 'restart' | 'kill' | 'pause' | 'unpause' | 'rm';

const STEPS: Record<Action, [string, string]> = {
  stop: ['Stopping', 'Stopped'], start: ['Starting', 'Started'], restart: ['Restarting', 'Restarted'], kill: ['Killing', 'Killed'],
  pause: ['Pausing', 'Paused'], unpause: ['Unpausing', 'Unpaused'], rm: ['Removing', 'Removed'],
};

/**
 * stop, start, restart, kill, pause, unpause, rm of a project's containers
 * (of the named services, or all): starts in dependency order, the others
 * dependents first.
 */
export async function act(api: ApiClient, p: Project, action: Action, services: string[], o: { timeout?: number; signal?: string; parallel: number; volumes?: boolean }, progress: Progress): Promise<string[]> {
  const all = await projectContainers(api, p.name, { oneoff: action === 'rm' });
  const chosen = services.length ? all.filter((c) => services.includes(c.Labels[Label.service])) : all;
  const relevant = chosen.filter((c) => {
    if (action === 'start') return c.State !== 'running';
    if (action === 'rm') return c.State !== 'running' && c.State !== 'paused';
    if (action === 'unpause') return c.State === 'paused';
    if (action === 'restart') return true;
    return c.State === 'running' || (action === 'stop' && c.State === 'paused');
  });
  const [doing, done] = STEPS[action];
  return inOrder(relevant, p, action === 'start' || action === 'unpause' ? 'start' : 'stop', o.parallel, async (c) => {
    progress({ kind: 'Container', name: nameOf(c), step: doing });
    if (action === 'rm') await api.call('DELETE', `/containers/${c.Id}`, { query: { v: o.volumes } });
    else await api.call('POST', `/containers/${c.Id}/${action}`, { query: action === 'kill' ? { signal: o.signal } : action === 'stop' || action === 'restart' ? { t: o.timeout } : {} });
    progress({ kind: 'Container', name: nameOf(c), step: done });
  });
}
