import { errorMessage } from '../../base/errors';
import type { Logger } from '../../base/log';
import { Rerun } from '../../base/rerun';
import { Limiter } from '../../base/limiter';
import { type ClusterNetwork, type ContainerTemplate, isLive, specOf, type TaskState } from '../core/model';
import type { OverlaySpec } from '../../engine/networks/network-store';
import type { LogsOptions } from '../../engine/containers/container-io';
import type { Readable } from 'node:stream';
import type { BlobSourcing } from '../../engine/images/registries';
import type { LogBatch } from '../../engine/logs/logs';
import type { Reading } from './usage';
import { type ClusterStore, type ServiceRecord, type Snapshot, type TaskRecord, type TaskStatus, taskState } from '../store/store';

/** A container of a task, as the agent reads it back from its engine. */
export interface TaskContainer {
  id: string;
  taskId: string;
  running: boolean;
  /** It ran and ended (not just made). */
  exited: boolean;
  exitCode: number;
  error: string;
  /** Its health check's verdict, where it has one. */
  health?: 'starting' | 'healthy' | 'unhealthy';
}

/** What the agent needs of its node's engine (the daemon gives it the real one). */
export interface AgentEngine {
  /** The containers of cluster tasks on this node. */
  taskContainers(): TaskContainer[];
  /** Pulls the image unless this node has it (with the service's credentials, where it has some); whether it pulled. */
  ensureImage(image: string, credentials?: ServiceRecord['registryAuth']): Promise<boolean>;
  /** Every pull of this node's takes its blobs from `s` first (undefined: the registry alone). */
  useBlobSource(s: BlobSourcing | undefined): void;
  /** A blob of this node's content store from `offset` on, and its whole size; undefined when it has none. */
  readBlob(digest: string, offset: number): Promise<{ size: number; stream: Readable } | undefined>;
  /** The digests of every blob in this node's content store. */
  heldBlobs(): Promise<string[]>;
  /** Calls back after a blob is stored anew or removed; the stopper. */
  onBlobChange(listener: (e: { digest: string; kind: 'added' | 'removed' }) => void): () => void;
  /** Makes and starts a task's container, on its cluster networks (the first its primary) where it has any; its id. */
  run(name: string, template: ContainerTemplate, labels: Record<string, string>, extra: { taskId: string; endpoints: TaskEndpoint[]; files: TaskFile[]; credentials?: ServiceRecord['registryAuth'] }): Promise<string>;
  /** This node's part of a cluster network, made if missing (idempotent). */
  ensureNetwork(spec: OverlaySpec): Promise<void>;
  /** A cluster network's tasks: those on other nodes forwarded to them, and each one's names (none while it does not serve) answered here. */
  setNetworkPeers(networkId: string, peers: NetworkPeer[]): Promise<void>;
  /** This node's parts of cluster networks, and whether a container is on each. */
  localNetworks(): { id: string; inUse: boolean }[];
  removeNetwork(networkId: string): Promise<void>;
  /** Removes the secrets' and configs' files of tasks other than these (their containers gone, by hand too). */
  pruneTaskFiles(keep: Set<string>): Promise<void>;
  /** Stops it within `graceSeconds` (undefined: the container's own stop timeout, set from the service at create). */
  stop(id: string, graceSeconds?: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** Calls back when any container ends or its health changes; the stopper. */
  onChange(changed: () => void): () => void;
  /** A task container's log (docker logs' options), for `service logs` through this node's endpoint. */
  logs(containerId: string, o: LogsOptions, signal: AbortSignal): AsyncIterable<LogBatch>;
  /** CPU time and memory of the node's containers together and of each running task's, as its cgroups count them. */
  usage(): Promise<Omit<Reading, 'at'>>;
}

/** A task container's place on a cluster network: its address there. */
export interface TaskEndpoint {
  networkId: string;
  ip: string;
}

/** A secret's or config's content as a file in a task's container (read-only, its owner and mode as the service gives them). */
export interface TaskFile {
  target: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/** A task's place on a cluster network, as every node on the network knows it. */
export interface NetworkPeer {
  taskId: string;
  ip: string;
  /** Its node's address, where VXLAN reaches it (none: it is on this node). */
  vtep?: string;
  /** The names it answers to there (none while it does not serve). */
  names: string[];
}

/** docker's labels on a task's container, so `docker ps` and tools see swarm's. */
export const TASK_LABEL = 'com.docker.swarm.task.id';

/** Task containers a node starts at once: a few keep its cores and disk busy while one waits on another. */
const START_CONCURRENCY = 8;

/** swarm's default data path port: VXLAN between nodes. */
export const DATA_PATH_PORT = 4789;

/**
 * A node's agent (swarm's worker): converges this node's containers to the
 * tasks the leader assigned it, and reports each task's state. Runs on
 * every change in the store, when a container ends, and on a tick.
 * Start a task wanted running that has no container; report running, or
 * how it ended (complete, failed with the exit code); stop a task wanted
 * down (and report shutdown); remove containers whose tasks are gone.
 */
export class Agent {
  private readonly loop = new Rerun(() => this.round());
  /** Container starts at a time: hundreds at once contend (mounts, the store's files, the runtime) and finish later than in turns. */
  private readonly starts = new Limiter(START_CONCURRENCY);
  private stops: (() => unknown)[] = [];
  /** What was last reported per task (a report is written only when it changes). */
  private reported = new Map<string, TaskStatus>();
  private starting = new Set<string>();
  /** This node's tasks wanted running, at the last round: one that waited its turn to start and is no longer among them is not started. */
  private wanted = new Set<string>();
  /** Tasks whose container is being stopped in the background (a stop may wait out a grace period): rounds leave them be. */
  private stopping = new Set<string>();
  /** Reads the store as this agent keeps it in memory (set once started). */
  private view?: () => Snapshot;
  /** Tasks this node ran or was given at the last round: their removal is news to it. */
  private own = new Set<string>();
  /** Pulls ahead of need begun (prefetches, services' new versions): each is tried once. */
  private ahead = new Set<string>();
  /** Tasks with an address on a cluster network this node carries, at the last round: their changes are news to it. */
  private addressed = new Set<string>();
  /** The cluster networks this node carries, at the last round. */
  private carried = new Set<string>();

  constructor(
    private readonly store: ClusterStore,
    private readonly nodeId: string,
    private readonly engine: AgentEngine,
    private readonly logger: Logger,
    private readonly tickMs = 2000,
  ) {}

  async start(): Promise<void> {
    // The store in memory, woken only by what concerns this node: its tasks and the services (others' reports, other
    // nodes' tasks and everyone's liveness change all the time and are none of its business).
    const mirror = await this.store.mirror((changes) => {
      if (!changes.length || changes.some((c) => this.concerns(c.key, c.value))) this.kick();
    }, (what, e) => this.logger.warn('cluster agent: its view of the store', { what, error: errorMessage(e) }));
    this.view = () => mirror.snapshot();
    this.stops.push(() => mirror.stop());
    this.stops.push(this.engine.onChange(() => this.kick()));
    this.kick();
  }

  kick(): void {
    this.loop.kick();
  }

  /**
   * What wakes this agent: the services, prefetches and networks; its own
   * tasks; and, on the networks it carries, other nodes' tasks and their
   * states (its forwarding and names follow them).
   */
  private concerns(key: string, value: unknown): boolean {
    const [kind, id] = key.split('/');
    if (kind === 'services' || kind === 'prefetch' || kind === 'networks') return true;
    if (kind === 'status') return this.addressed.has(id);
    if (kind !== 'tasks') return false;
    const t = value as TaskRecord | undefined;
    if (this.addressed.has(id) || Object.keys(t?.addresses ?? {}).some((n) => this.carried.has(n))) return true;
    return t === undefined ? this.own.has(id) : t.nodeId === this.nodeId;
  }

  private async round(): Promise<number> {
    try {
      await this.converge(this.view ? this.view() : await this.store.snapshot());
    } catch (e) {
      this.logger.warn('cluster agent', { error: errorMessage(e) });
    }
    return this.tickMs;
  }

  private async converge(snap: Snapshot): Promise<void> {
    const services = new Map(snap.services.map((s) => [s.id, s]));
    // Written-off tasks count too: a node back from the dead stops what the cluster has replaced elsewhere.
    const mine = snap.tasks.filter((t) => t.nodeId === this.nodeId && (t.assigned || t.orphaned));
    const containers = new Map(this.engine.taskContainers().map((c) => [c.taskId, c]));
    this.own = new Set([...mine.map((t) => t.id), ...containers.keys()]);
    this.wanted = new Set(mine.filter((t) => t.desired === 'running' && !t.orphaned).map((t) => t.id));
    const known = new Set(snap.tasks.map((t) => t.id));
    // The round's reports, written together at its end: a node starting a hundred tasks makes one write, not a hundred.
    const reports = new Map<string, TaskStatus>();
    // Started once the round's reports (their `starting` among them) are written.
    const toStart: [TaskRecord, ServiceRecord][] = [];
    for (const t of mine) {
      if (this.stopping.has(t.id)) continue;
      const c = containers.get(t.id);
      const s = services.get(t.serviceId);
      const grace = s?.spec.container.stopGraceSeconds;
      const state = t.status?.state;
      if (t.desired === 'running' && !t.orphaned) {
        if (state && isOver(state)) continue;
        if (!c) {
          if (state && state !== 'assigned' && state !== 'accepted' && state !== 'preparing' && state !== 'starting') {
            // It had a container that is gone (removed by hand): the task failed.
            reports.set(t.id, { state: 'failed', message: 'the task\'s container is gone', at: Date.now() });
            continue;
          }
          if (!s || this.starting.has(t.id)) continue;
          toStart.push([t, s]);
          reports.set(t.id, { state: 'starting', message: 'starting', at: Date.now() });
          continue;
        }
        if (c.running && c.health === 'unhealthy') {
          // swarm's: an unhealthy task fails, and the managers replace it.
          this.stopTask(t.id, c.id, grace, 'stop of an unhealthy task', () => ({ state: 'failed', message: 'task: unhealthy container', containerId: c.id, ...ranSince(t), at: Date.now() }));
        } else if (c.running && c.health === 'starting') {
          reports.set(t.id, { state: 'starting', message: 'starting', containerId: c.id, at: Date.now() });
        } else if (c.running) {
          reports.set(t.id, { state: 'running', message: 'started', containerId: c.id, startedAt: t.status?.startedAt ?? Date.now(), at: Date.now() });
        } else if (c.exited) {
          const failed = c.exitCode !== 0;
          reports.set(t.id, {
            state: failed ? 'failed' : 'complete', message: failed ? `task: non-zero exit (${c.exitCode})` : 'finished', exitCode: c.exitCode, containerId: c.id,
            ...ranSince(t), at: Date.now(),
          });
        }
      } else if (c?.running) {
        const exitCode = c.exitCode;
        this.stopTask(t.id, c.id, grace, 'stop of a task wanted down', () => ({ state: 'shutdown', message: 'shut down', containerId: c.id, exitCode, at: Date.now() }));
      } else if ((!state || !isOver(state)) && !isOver(this.reported.get(t.id)?.state)) {
        // (What this node last wrote may be ahead of its view of the store: a stop's own report is not undone.)
        reports.set(t.id, { state: 'shutdown', message: c ? 'shut down' : 'shut down before it started', at: Date.now() });
      }
    }
    this.pullAhead(snap, mine);
    // Containers of tasks the managers removed (history pruned, service gone): they go too.
    for (const [taskId, c] of containers) {
      if (known.has(taskId) || this.stopping.has(taskId)) continue;
      this.stopping.add(taskId);
      void (async () => {
        if (c.running) await this.engine.stop(c.id).catch((e) => this.logger.warn('stop of a removed task', { task: taskId, error: errorMessage(e) }));
        await this.engine.remove(c.id).catch((e) => this.logger.warn('remove of a removed task\'s container', { task: taskId, error: errorMessage(e) }));
        this.reported.delete(taskId);
      })().finally(() => this.stopping.delete(taskId));
    }
    await this.send(reports);
    for (const [t, s] of toStart) {
      this.starting.add(t.id);
      void this.startTask(t, s, snap).finally(() => this.starting.delete(t.id));
    }
    await this.syncNetworks(snap);
    // Read afresh: a start that ended during this round has its container now, and no longer counts as starting.
    await this.engine.pruneTaskFiles(new Set([...this.starting, ...this.engine.taskContainers().map((c) => c.taskId)]));
  }

  /** Stops a task's container in the background, as starts run, then reports how it ended (`after`, read once stopped). */
  private stopTask(taskId: string, containerId: string, grace: number | undefined, what: string, after: () => TaskStatus): void {
    this.stopping.add(taskId);
    void this.engine.stop(containerId, grace)
      .catch((e) => this.logger.warn(what, { task: taskId, error: errorMessage(e) }))
      .then(() => this.send(new Map([[taskId, after()]])))
      .catch((e) => this.logger.warn('task report', { task: taskId, error: errorMessage(e) }))
      .finally(() => {
        this.stopping.delete(taskId);
        this.kick();
      });
  }

  /**
   * Images before they are needed, in the background: those a prefetch
   * asks of this node (answered with how it went), and the new image of a
   * service this node runs an older version of (its roll-out will want it
   * here; swarm pulls only when the new task arrives). Each once.
   */
  private pullAhead(snap: Snapshot, mine: Snapshot['tasks']): void {
    const pull = (key: string, image: string, done: (pulled: boolean, error?: string, seconds?: number) => Promise<void>, credentials?: ServiceRecord['registryAuth']) => {
      if (this.ahead.has(key)) return;
      this.ahead.add(key);
      const t0 = Date.now();
      void this.engine.ensureImage(image, credentials).then((pulled) => done(pulled, undefined, (Date.now() - t0) / 1000), (e: unknown) => done(false, errorMessage(e), (Date.now() - t0) / 1000))
        .catch((e: unknown) => this.logger.warn('image pulled ahead', { image, error: errorMessage(e) }));
    };
    for (const p of snap.prefetches) {
      if (!p.nodes.includes(this.nodeId) || p.reports[this.nodeId]) continue;
      pull(`prefetch ${p.id}`, p.image, (pulled, error, seconds = 0) =>
        this.store.reportPull(p, this.nodeId, { ok: !error, message: error ?? (pulled ? 'pulled' : 'already here'), seconds: Math.round(seconds * 10) / 10 }));
    }
    for (const s of snap.services) {
      if (!mine.some((t) => t.serviceId === s.id && t.specVersion !== s.version)) continue;
      pull(`service ${s.id} ${s.version}`, s.spec.container.image, async (_pulled, error) => {
        if (error) this.logger.warn('image of a service\'s new version, pulled ahead', { image: s.spec.container.image, error });
      }, s.registryAuth);
    }
  }

  private async startTask(t: TaskRecord, s: ServiceRecord, snap: Snapshot): Promise<void> {
    const { id: taskId, slot } = t;
    const name = `${s.spec.name}.${slot ?? this.nodeId}.${taskId}`;
    const labels = {
      ...(s.spec.container.labels ?? {}),
      'com.docker.swarm.service.id': s.id, 'com.docker.swarm.service.name': s.spec.name, [TASK_LABEL]: taskId,
      'com.docker.swarm.task.name': `${s.spec.name}.${slot ?? this.nodeId}.${taskId}`, 'com.docker.swarm.node.id': this.nodeId,
    };
    try {
      const template = specOf(s, t.specVersion).container;
      const endpoints: TaskEndpoint[] = [];
      for (const want of template.networks ?? []) {
        const n = snap.networks.find((x) => x.id === want.id);
        if (!n) throw new Error(`network ${want.id} not found`);
        const ip = t.addresses?.[n.id];
        if (!ip) throw new Error(`no free address on network ${n.name} (${n.subnet})`);
        await this.engine.ensureNetwork(overlaySpec(n, DATA_PATH_PORT));
        this.carried.add(n.id);
        // Its service's names come from the store once it runs (syncNetworks); the container itself answers to its own name.
        endpoints.push({ networkId: n.id, ip });
      }
      const files = (template.files ?? []).map((f): TaskFile => {
        const o = (f.kind === 'secret' ? snap.secrets : snap.configs).find((x) => x.id === f.id);
        if (!o) throw new Error(`${f.kind} ${f.id} not found`);
        return { target: f.target, data: Buffer.from(o.data, 'base64'), uid: f.uid, gid: f.gid, mode: f.mode };
      });
      await this.starts.run(async () => {
        if (this.wanted.has(taskId)) await this.engine.run(name, template, labels, { endpoints, files, taskId, credentials: s.registryAuth });
      });
      // Running (and when, which roll-outs measure from) is told by the next round, once healthy where it has a check:
      // a report from here could land after a round's and undo it.
    } catch (e) {
      // swarm's word for a task its node could not start (no such image, a bad mount).
      await this.send(new Map([[taskId, { state: 'rejected', message: errorMessage(e), at: Date.now() }]])).catch((err) => this.logger.warn('task report', { task: taskId, error: errorMessage(err) }));
    }
    this.kick();
  }

  /**
   * This node's parts of cluster networks, kept to what its tasks need:
   * the live tasks on each elsewhere forwarded to their nodes, and the
   * names of those that run (healthy, with a health check) and are wanted
   * running answered, here or elsewhere, so a name leads only to tasks
   * that serve (a task starting, failing its check or being stopped drops
   * out). One no container here is on and no task here needs any more
   * goes (as swarm's nodes drop a network with their last task on it).
   */
  private async syncNetworks(snap: Snapshot): Promise<void> {
    const local = this.engine.localNetworks();
    this.carried = new Set(local.map((n) => n.id));
    this.addressed = new Set(snap.tasks.filter((t) => Object.keys(t.addresses ?? {}).some((n) => this.carried.has(n))).map((t) => t.id));
    if (!local.length) return;
    const nodes = new Map(snap.nodes.map((n) => [n.id, n]));
    const services = new Map(snap.services.map((s) => [s.id, s]));
    const cluster = new Set(snap.networks.map((n) => n.id));
    const live = snap.tasks.filter((t) => t.addresses && t.assigned && isLive(taskState(t)));
    for (const { id, inUse } of local) {
      const needed = live.some((t) => t.nodeId === this.nodeId && t.addresses![id]);
      if (!inUse && (!needed || !cluster.has(id)) && !this.starting.size) {
        await this.engine.removeNetwork(id).catch((e) => this.logger.warn('cluster network removal', { network: id, error: errorMessage(e) }));
        continue;
      }
      const peers = live.flatMap((t): NetworkPeer[] => {
        const ip = t.addresses![id];
        const s = services.get(t.serviceId);
        if (!ip || !s) return [];
        const here = t.nodeId === this.nodeId;
        const vtep = here ? undefined : /^(\d+\.\d+\.\d+\.\d+)(:\d+)?$/.exec(nodes.get(t.nodeId ?? '')?.addr ?? '')?.[1];
        if (!here && !vtep) return [];
        const serves = taskState(t) === 'running' && t.desired === 'running';
        const aliases = (specOf(s, t.specVersion).container.networks ?? []).find((n) => n.id === id)?.aliases ?? [];
        const names = serves ? [s.spec.name, `tasks.${s.spec.name}`, ...aliases, ...(here ? [] : [`${s.spec.name}.${t.slot ?? t.nodeId}.${t.id}`])] : [];
        return [{ taskId: t.id, ip, ...(vtep ? { vtep } : {}), names }];
      });
      // One network's failure (its device removed by hand) leaves the others' in step; the next round tries again.
      await this.engine.setNetworkPeers(id, peers).catch((e) => this.logger.warn('cluster network peers', { network: id, error: errorMessage(e) }));
    }
  }

  /** Writes the reports that say something new (not what this node last wrote of the task), together. */
  private async send(reports: Map<string, TaskStatus>): Promise<void> {
    const fresh = [...reports].filter(([id, st]) => !sameReport(this.reported.get(id), st));
    if (!fresh.length) return;
    await this.store.setStatuses(fresh);
    for (const [id, st] of fresh) this.reported.set(id, st);
  }

  /** Idempotent: a watch cancelled twice would never settle. */
  async stop(): Promise<void> {
    this.loop.stop();
    const stops = this.stops;
    this.stops = [];
    for (const s of stops) await s();
  }
}

/** When the task was first seen running, carried into its later reports (roll-outs measure a task's life from it). */
function ranSince(t: { status?: TaskStatus }): { startedAt?: number } {
  return t.status?.startedAt ? { startedAt: t.status.startedAt } : {};
}

/** Two reports of a task that say the same (their times aside). */
function sameReport(a: TaskStatus | undefined, b: TaskStatus): boolean {
  return !!a && a.state === b.state && a.message === b.message && a.exitCode === b.exitCode && a.containerId === b.containerId;
}

function isOver(state: TaskState | undefined): boolean {
  return state === 'complete' || state === 'failed' || state === 'rejected' || state === 'shutdown';
}

/** What a node is told of a cluster network to make its part of it. */
function overlaySpec(n: ClusterNetwork, port: number): OverlaySpec {
  return { id: n.id, name: n.name, subnet: n.subnet, gateway: n.gateway, vni: n.vni, port, internal: n.internal, labels: n.labels, options: n.options, created: n.createdAt };
}
