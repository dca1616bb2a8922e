import { BerthError, errorMessage } from '../base/errors';
import { Limiter } from '../base/limiter';
import type { ApiClient } from '../client/client';
import { Label } from './labels';
import type { Progress } from './progress';
import { type ContainerSummary, labelled, nameOf, projectContainers } from './resources';
import { ServiceGraph } from './spec/graph';
import type { Project } from './spec/model';

/**
 * A project's containers in the order to stop them: dependents before what
 * they need, in waves (containers of one wave in parallel). Without the
 * project's files (`down -p NAME`), one wave.
 */
export function stopWaves(containers: ContainerSummary[], p: Project | undefined): ContainerSummary[][] {
  if (!p) return containers.length ? [containers] : [];
  const all = { ...p.disabled, ...p.services };
  const waves = new ServiceGraph(Object.values(all)).waves().reverse();
  const placed = new Set<string>();
  const out: ContainerSummary[][] = [];
  for (const w of waves) {
    const names = new Set(w);
    const these = containers.filter((c) => names.has(c.Labels[Label.service]));
    these.forEach((c) => placed.add(c.Id));
    if (these.length) out.push(these);
  }
  const rest = containers.filter((c) => !placed.has(c.Id));
  return rest.length ? [rest, ...out] : out;
}

/** Runs an action on every container of each wave, in parallel within a wave; errors are reported and the rest goes on. */
async function inWaves(waves: ContainerSummary[][], parallel: number, act: (c: ContainerSummary) => Promise<void>): Promise<string[]> {
  const limiter = new Limiter(parallel);
  const errors: string[] = [];
  for (const w of waves) {
    await Promise.all(w.map((c) => limiter.run(() => act(c).catch((e) => void errors.push(`${nameOf(c)}: ${errorMessage(e)}`)))));
  }
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
  const errors = await inWaves(stopWaves(removing, p), o.parallel, async (c) => {
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
  // Networks still used by kept orphans stay.
  for (const n of await labelled(api, 'networks', name)) {
    progress({ kind: 'Network', name: n, step: 'Removing' });
    try {
      await api.call('DELETE', `/networks/${encodeURIComponent(n)}`);
      progress({ kind: 'Network', name: n, step: 'Removed' });
    } catch (e) {
      if (!gone(e)) errors.push(`network ${n}: ${errorMessage(e)}`);
    }
  }
  if (o.volumes) {
    for (const v of await labelled(api, 'volumes', name)) {
      try {
        await api.call('DELETE', `/volumes/${encodeURIComponent(v)}`);
        progress({ kind: 'Volume', name: v, step: 'Removed' });
      } catch (e) {
        if (!gone(e)) errors.push(`volume ${v}: ${errorMessage(e)}`);
      }
    }
  }
  if (o.rmi) {
    const images = new Set(o.rmi === 'all' ? [...removing.map((c) => c.Image), ...Object.values(p?.services ?? {}).map((s) => s.image!).filter(Boolean)] : []);
    for (const i of images) {
      try {
        await api.call('DELETE', `/images/${i}`);
        progress({ kind: 'Image', name: i, step: 'Removed' });
      } catch (e) {
        if (!gone(e)) errors.push(`image ${i}: ${errorMessage(e)}`);
      }
    }
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
  const waves = stopWaves(relevant, p);
  const ordered = action === 'start' ? waves.reverse() : waves;
  const [doing, done] = STEPS[action];
  return inWaves(ordered, o.parallel, async (c) => {
    progress({ kind: 'Container', name: nameOf(c), step: doing });
    if (action === 'rm') await api.call('DELETE', `/containers/${c.Id}`, { query: { v: o.volumes } });
    else await api.call('POST', `/containers/${c.Id}/${action}`, { query: action === 'kill' ? { signal: o.signal } : action === 'stop' || action === 'restart' ? { t: o.timeout } : {} });
    progress({ kind: 'Container', name: nameOf(c), step: done });
  });
}
