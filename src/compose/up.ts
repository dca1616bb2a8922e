import { BerthError, errorMessage, invalidArgument } from '../base/errors';
import { Limiter } from '../base/limiter';
import type { ApiClient } from '../client/client';
import { containerName, createBody, endpointOf, networkOrder, scaleOf } from './create-body';
import { placeGrants } from './grants';
import { configHash, Label } from './labels';
import type { Progress } from './progress';
import { byService, type ContainerSummary, ensureNetworks, ensureVolumes, lastOutput, nameOf, numberOf, projectContainers } from './resources';
import { ServiceGraph } from './spec/graph';
import { checkGrants } from './spec/references';
import type { Project, Service } from './spec/model';
import { judgeCondition, ProjectWatch } from './watch';

export interface UpOptions {
  /** Services named on the command line; none: all. */
  services: string[];
  noDeps?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  scale?: Record<string, number>;
  /** How many services are created and started at once. */
  parallel: number;
  pull: 'always' | 'missing' | 'never';
  /** Sends a pull; the CLI adds the registry's credentials. */
  pullImage: (image: string) => Promise<void>;
  /** Builds a service's image (its `build:`), named by its `image:`. */
  buildImage?: (s: Service) => Promise<void>;
  /** `--build`: every service with a `build:` is built, present or not. */
  build?: boolean;
  /** Seconds a container has to stop when it is replaced. */
  timeout?: number;
  /**
   * A layered environment: only the named services run in this project (and,
   * with `withDependents`, what depends on them); what they need comes from
   * the base project's running services, reached on its networks, where
   * this project's containers join without their service names.
   */
  base?: Project;
  withDependents?: boolean;
  /** `create`, `up --no-start`: containers made and left stopped; what a service needs is made first, no condition waited for. */
  noStart?: boolean;
}


/** What became of a service in an `up`. */
export interface ServiceResult {
  service: string;
  /** `created`: made and left stopped, as asked (`--no-start`). */
  state: 'started' | 'created' | 'failed' | 'blocked';
  /** Why it failed, or why what it needs did. */
  cause?: string;
  /** The failed service that kept this one from starting. */
  blockedBy?: string;
  /** When its containers were started, from the start of `up`; and how long that took. */
  at?: number;
  ms?: number;
}

export interface UpReport {
  results: ServiceResult[];
  orphans: string[];
}

/** The services an `up` acts on: those named (and, unless --no-deps, what they need), or all. */
export function targetsOf(graph: ServiceGraph, o: { services: string[]; noDeps?: boolean; base?: Project; withDependents?: boolean }): Set<string> {
  if (o.base && !o.services.length) throw invalidArgument(`a layered environment on ${o.base.name} runs the services it replaces: name them`);
  if (!o.services.length) return new Set(graph.names);
  for (const s of o.services) if (!graph.names.includes(s)) throw invalidArgument(`no such service: ${s}`);
  if (o.base) return o.withDependents ? graph.dependentsClosure(o.services) : new Set(o.services);
  return o.noDeps ? new Set(o.services) : graph.closure(o.services);
}

/**
 * `up`: images first (all of them, before anything is made: a missing one
 * fails the whole `up` with nothing created), then networks and volumes,
 * then each service as soon as what it needs meets its condition, up to
 * `parallel` at a time. A service that fails keeps its dependents from
 * starting; the rest of the graph goes on. Containers whose configuration
 * is unchanged are left as they are.
 */
export async function up(api: ApiClient, p: Project, o: UpOptions, progress: Progress): Promise<UpReport> {
  const t0 = Date.now();
  const graph = new ServiceGraph(Object.values(p.services));
  const targets = targetsOf(graph, o);
  const services = [...targets].map((n) => p.services[n]);
  for (const s of services) scaleOf(s, o.scale?.[s.name]);
  checkGrants(p, targets);
  const imageIds = await ensureImages(api, services, o, progress);

  const baseContainers = new Map([...byService(o.base ? await projectContainers(api, o.base.name, { all: false }) : [])].map(([svc, cs]) => [svc, cs.map((c) => ({ id: c.Id, name: nameOf(c) }))]));
  if (o.base && !baseContainers.size) throw invalidArgument(`the base environment ${o.base.name} runs no containers: bring it up first`);
  const nets = new Set(services.flatMap((s) => Object.keys(s.networks)));
  const vols = new Set(services.flatMap((s) => s.volumes.filter((v) => v.type === 'volume' && v.source).map((v) => v.source!)));
  for (const n of await ensureNetworks(api, p, nets)) progress({ kind: 'Network', name: n, step: 'Created' });
  for (const v of await ensureVolumes(api, p, vols)) progress({ kind: 'Volume', name: v, step: 'Created' });

  const existing = await projectContainers(api, p.name);
  const have = byService(existing);
  const known = new Set([...Object.keys(p.services), ...Object.keys(p.disabled)]);
  const orphans = existing.filter((c) => !known.has(c.Labels[Label.service]));
  for (const c of o.removeOrphans ? orphans : []) {
    await api.call('DELETE', `/containers/${c.Id}`, { query: { force: true, v: true } });
    progress({ kind: 'Container', name: nameOf(c), step: 'Removed', detail: 'orphan' });
  }

  const watch = new ProjectWatch(api, p.name);
  const baseWatch = o.base ? new ProjectWatch(api, o.base.name) : undefined;
  const limiter = new Limiter(o.parallel);
  const ids = new Map<string, { id: string; name: string }[]>(); // a service's containers once converged
  const runs = new Map<string, Promise<ServiceResult>>();
  const run = (name: string): Promise<ServiceResult> => {
    let r = runs.get(name);
    if (!r) runs.set(name, (r = converge(name)));
    return r;
  };
  const converge = async (name: string): Promise<ServiceResult> => {
    const r = await convergeAfterNeeds(name);
    progress({ kind: 'Service', name, step: r.state === 'started' ? 'Started' : r.state === 'created' ? 'Created' : r.state === 'failed' ? 'Failed' : 'Blocked', detail: r.cause });
    return r;
  };
  const convergeAfterNeeds = async (name: string): Promise<ServiceResult> => {
    const s = p.services[name];
    progress({ kind: 'Service', name, step: 'Waiting' });
    for (const e of graph.needs(name).filter((x) => targets.has(x.to) || o.base)) {
      const inBase = !targets.has(e.to);
      if (inBase && !baseContainers.has(e.to)) return { service: name, state: 'blocked', blockedBy: e.to, cause: `service ${e.to} does not run in the base environment ${o.base!.name}` };
      const dep = inBase ? undefined : await run(e.to);
      if (dep && dep.state !== 'started' && dep.state !== 'created') return { service: name, state: 'blocked', blockedBy: dep.blockedBy ?? e.to, cause: dep.cause };
      for (const c of o.noStart ? [] : ((inBase ? baseContainers : ids).get(e.to) ?? [])) {
        if (e.condition !== 'service_started') progress({ kind: 'Container', name: c.name, service: e.to, step: 'Waiting' });
        const v = await (inBase ? baseWatch! : watch).until(c.id, judgeCondition(e.condition));
        if ('failed' in v) return { service: name, state: 'blocked', blockedBy: e.to, cause: `${v.failed}${await lastOutput(api, c.id)}` };
        if (e.condition === 'service_healthy') progress({ kind: 'Container', name: c.name, service: e.to, step: 'Healthy' });
        if (e.condition === 'service_completed_successfully') progress({ kind: 'Container', name: c.name, service: e.to, step: 'Exited' });
      }
    }
    return limiter.run(async () => {
      progress({ kind: 'Service', name, step: 'Starting' });
      const start = Date.now();
      try {
        ids.set(name, await convergeService(api, p, s, imageIds.get(s.image!)!, have.get(name) ?? [], o, (svc) => containerOf(p, ids, have, svc), progress));
        return { service: name, state: o.noStart ? 'created' : 'started', at: start - t0, ms: Date.now() - start };
      } catch (e) {
        return { service: name, state: 'failed', cause: errorMessage(e), at: start - t0, ms: Date.now() - start };
      }
    });
  };
  try {
    const results = await Promise.all(graph.waves(targets).flat().map(run));
    return { results, orphans: o.removeOrphans ? [] : orphans.map(nameOf) };
  } finally {
    watch.close();
    baseWatch?.close();
  }
}

/** A container stopped with its grace period (the force of rm would kill it at once), then removed. */
async function stopAndRemove(api: ApiClient, id: string, timeout: number | undefined): Promise<void> {
  await api.call('POST', `/containers/${id}/stop`, { query: { t: timeout } });
  await api.call('DELETE', `/containers/${id}`, { query: { force: true } });
}

/** The base environment's networks a layered service joins: those of the same keys, where they are not one network. */
function baseNetworks(p: Project, s: Service, base: Project | undefined): string[] {
  if (!base) return [];
  return networkOrder(s).map(([key]) => base.networks[key]?.name).filter((n, i) => n !== undefined && n !== p.networks[networkOrder(s)[i][0]].name);
}

/** The first container of another service, for links, volumes_from and network_mode. */
function containerOf(p: Project, ids: Map<string, { id: string }[]>, existing: Map<string, ContainerSummary[]>, svc: string): string {
  const id = ids.get(svc)?.[0]?.id ?? existing.get(svc)?.[0]?.Id;
  if (id) return id;
  const s = p.services[svc];
  if (!s) throw invalidArgument(`service ${svc} is not part of this project`);
  return containerName(p, s, 1);
}

/**
 * Every image is present (pulled as the pull policy says) before anything is
 * made; all failures are reported at once. Returns each image's id.
 */
async function ensureImages(api: ApiClient, services: Service[], o: UpOptions, progress: Progress): Promise<Map<string, string>> {
  const images = new Map<string, Service[]>();
  for (const s of services) images.set(s.image!, [...(images.get(s.image!) ?? []), s]);
  const limiter = new Limiter(4);
  const failed: string[] = [];
  const ids = new Map<string, string>();
  const idOf = (image: string) => api.json<{ Id: string }>('GET', `/images/${image}/json`).then((i) => i.Id, (e) => {
    if (e instanceof BerthError && e.code === 'not_found') return undefined;
    throw e;
  });
  await Promise.all([...images].map(([image, users]) => limiter.run(async () => {
    const s = users[0];
    const who = `service${users.length > 1 ? 's' : ''} ${users.map((u) => `"${u.name}"`).join(', ')}`;
    const policy = (s.pull_policy as string | undefined) ?? o.pull;
    const id = await idOf(image);
    const builder = users.find((u) => u.build);
    if (builder && (o.build || !id || policy === 'build')) {
      progress({ kind: 'Image', name: image, service: builder.name, step: 'Building' });
      try {
        if (!o.buildImage) throw invalidArgument('this client cannot build');
        await o.buildImage(builder);
        const built = await idOf(image);
        if (!built) throw invalidArgument(`the build did not make ${image}`);
        ids.set(image, built);
        progress({ kind: 'Image', name: image, service: builder.name, step: 'Built' });
      } catch (e) {
        progress({ kind: 'Image', name: image, service: builder.name, step: 'Error', detail: errorMessage(e) });
        failed.push(`${who}: the build of ${image} failed: ${errorMessage(e)}`);
      }
      return;
    }
    if (policy === 'never' || (id && policy !== 'always')) {
      if (id) ids.set(image, id);
      else failed.push(`${who}: image ${image} is not present and the pull policy is never`);
      return;
    }
    progress({ kind: 'Image', name: image, service: s.name, step: 'Pulling' });
    try {
      await o.pullImage(image);
      const pulled = await idOf(image);
      if (!pulled) throw invalidArgument(`${image} is still not present after its pull`);
      ids.set(image, pulled);
      progress({ kind: 'Image', name: image, service: s.name, step: 'Pulled' });
    } catch (e) {
      progress({ kind: 'Image', name: image, service: s.name, step: 'Error', detail: errorMessage(e) });
      failed.push(`${who}: pull of ${image} failed: ${errorMessage(e)}`);
    }
  })));
  if (failed.length) throw invalidArgument(`${failed.sort().join('\n')}\nnothing was created`);
  return ids;
}

/**
 * One service's containers to what the files say: unchanged ones kept (and
 * started), changed ones replaced, missing ones made, extra ones removed.
 * Returns its containers.
 */
async function convergeService(api: ApiClient, p: Project, s: Service, imageId: string, have: ContainerSummary[], o: UpOptions, other: (svc: string) => string, progress: Progress): Promise<{ id: string; name: string }[]> {
  const want = scaleOf(s, o.scale?.[s.name]);
  const hash = configHash(s);
  // A service's containers are independent of one another: made at once, and all settled before a failure is told.
  const settled = await Promise.allSettled(Array.from({ length: want }, (_, i) => i + 1).map(async (n): Promise<{ id: string; name: string }> => {
    const c = have.find((x) => numberOf(x) === n);
    const name = containerName(p, s, n);
    const fresh = c && (o.noRecreate || (!o.forceRecreate && c.Labels[Label.hash] === hash && c.ImageID === imageId));
    if (c && fresh) {
      if (c.State !== 'running' && !o.noStart) {
        progress({ kind: 'Container', name, service: s.name, step: 'Starting' });
        await api.call('POST', `/containers/${c.Id}/start`);
        progress({ kind: 'Container', name, service: s.name, step: 'Started' });
      } else progress({ kind: 'Container', name, service: s.name, step: 'Running' });
      return { id: c.Id, name };
    }
    if (c) {
      progress({ kind: 'Container', name, service: s.name, step: 'Recreate' });
      await stopAndRemove(api, c.Id, o.timeout);
    }
    progress({ kind: 'Container', name, service: s.name, step: 'Creating' });
    const { body } = createBody(p, s, n, other);
    if (o.base) (body.Labels as Record<string, string>)[Label.base] = o.base.name;
    const { Id } = await api.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
    // The API of 1.41 joins one network at create; the others are connected before the start.
    for (const [key, a] of networkOrder(s).slice(1)) {
      await api.json('POST', `/networks/${encodeURIComponent(p.networks[key].name)}/connect`, { body: { Container: Id, EndpointConfig: endpointOf(s, a) } });
    }
    // Joined after its own networks, and by its container name alone: its names resolve there first, the base's service names after.
    for (const net of baseNetworks(p, s, o.base)) {
      await api.json('POST', `/networks/${encodeURIComponent(net)}/connect`, { body: { Container: Id, EndpointConfig: {} } });
    }
    await placeGrants(api, Id, p, s);
    progress({ kind: 'Container', name, service: s.name, step: c ? 'Recreated' : 'Created' });
    if (o.noStart) return { id: Id, name };
    progress({ kind: 'Container', name, service: s.name, step: 'Starting' });
    try {
      await api.call('POST', `/containers/${Id}/start`);
    } catch (e) {
      throw new BerthError('internal', `container ${name} failed to start: ${errorMessage(e)}`, { cause: e });
    }
    progress({ kind: 'Container', name, service: s.name, step: 'Started' });
    return { id: Id, name };
  }));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const ids = settled.map((r) => (r as PromiseFulfilledResult<{ id: string; name: string }>).value);
  for (const c of have.filter((x) => numberOf(x) > want)) {
    progress({ kind: 'Container', name: nameOf(c), service: s.name, step: 'Removing' });
    await stopAndRemove(api, c.Id, o.timeout);
    progress({ kind: 'Container', name: nameOf(c), service: s.name, step: 'Removed' });
  }
  return ids;
}
