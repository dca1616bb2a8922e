import { errorMessage } from '../../base/errors';
import type { Logger } from '../../base/log';
import { Rerun } from '../../base/rerun';
import type { Action } from '../core/actions';
import { swarmId } from '../core/ids';
import { isTerminal, specOf } from '../core/model';
import { addressTasks } from '../net/ipam';
import { plan } from '../core/planner';
import { rebalancePolicy } from '../core/rebalancer';
import { applyActions, reconcile } from '../core/reconciler';
import { asNode, asTask, type ClusterStore, type Fence, type Mirror, type MirrorChange, type Snapshot, taskState } from '../store/store';

export interface ManagerOptions {
  /** Seconds the leader's lease lives without a keep-alive: how long a dead leader holds office. */
  leaderTtlSeconds: number;
  /** The slowest the leader looks again with nothing changed (restart delays are met sooner). */
  tickMs: number;
}

export const MANAGER_DEFAULTS: ManagerOptions = { leaderTtlSeconds: 3, tickMs: 1000 };

/**
 * A manager: campaigns for leadership, and while leader runs the loop
 * (Nomad's and swarm's shape): read a snapshot, reconcile, plan the pending
 * tasks, commit both in fenced transactions. Level-triggered: it runs on
 * every change in the store and on a tick, always from the current state,
 * so a missed event or a new leader costs a delay, never correctness.
 */
export class Manager {
  private fence?: Fence;
  private resign?: () => Promise<void>;
  /** The store in memory while leading: a round reads it, not etcd, once it holds the leader's own last writes. */
  private mirror?: Mirror;
  /** The revision of this office's last commit. */
  private wrote = 0;
  private loop = new Rerun(() => this.round());
  private closed = false;
  /** The last round's failure, logged once rather than every round. */
  private lastError?: string;

  constructor(
    private readonly store: ClusterStore,
    private readonly nodeId: string,
    private readonly logger: Logger,
    private readonly opts: ManagerOptions = MANAGER_DEFAULTS,
  ) {}

  /** Campaigns in the background; never throws (etcd away: it tries again). */
  start(): void {
    void this.campaign();
  }

  private async campaign(): Promise<void> {
    while (!this.closed && !this.fence) {
      try {
        const won = await this.store.campaign(this.nodeId, this.opts.leaderTtlSeconds, () => this.lostOffice());
        if (this.closed) {
          await won.resign();
          return;
        }
        this.fence = won.fence;
        this.resign = won.resign;
        this.logger.info('cluster leader', { node: this.nodeId, revision: won.fence.revision });
        this.wrote = 0;
        // Without it (etcd gone at this moment) the office is still held: rounds read etcd, on the tick.
        const mirror = await this.store.mirror((changes) => {
          if (!changes.length || changes.some(isNews)) this.kick();
        }, (what, e) => this.logger.warn('cluster leader: its view of the store', { what, error: errorMessage(e) })).catch((e: unknown) => {
          this.logger.warn('cluster leader: no view of the store in memory, rounds read etcd', { error: errorMessage(e) });
          return undefined;
        });
        if (this.fence !== won.fence || this.closed) {
          // The office was lost (or the manager stopped) meanwhile: the campaign after that loss goes on, not this one.
          await mirror?.stop();
          return;
        }
        this.mirror = mirror;
        this.kick();
      } catch (e) {
        // Stopped meanwhile (its client closed under it): nothing to say.
        if (this.closed) return;
        this.logger.warn('cluster campaign', { error: errorMessage(e) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private lostOffice(): void {
    if (!this.fence) return;
    this.logger.warn('cluster leadership lost', { node: this.nodeId });
    this.fence = undefined;
    void this.mirror?.stop();
    this.mirror = undefined;
    // Rounds of an old office would change nothing (fenced); a new one starts with the next term.
    this.loop.stop();
    this.loop = new Rerun(() => this.round());
    if (!this.closed) void this.campaign();
  }

  /** Whether this manager holds the office now. */
  get leading(): boolean {
    return !!this.fence && !this.closed;
  }

  /** Runs a round soon (several changes at once make one round). */
  kick(): void {
    if (this.fence && !this.closed) this.loop.kick();
  }

  /** One round as leader; returns when to look again (at the latest one tick away). */
  private async round(): Promise<number | undefined> {
    const fence = this.fence;
    if (!fence || this.closed) return undefined;
    let wakeAt: number | undefined;
    try {
      const snap = await this.view();
      const now = Date.now();
      const nodes = snap.nodes.map(asNode);
      const tasks = snap.tasks.map(asTask);
      const r = reconcile({ services: snap.services, tasks, nodes, now, newId: swarmId, rebalance: rebalancePolicy(snap.info?.labels), history: snap.info?.taskHistory });
      wakeAt = r.wakeAt;
      addressNewTasks(snap, r.actions);
      const after = applyActions(tasks, r.actions, now);
      const pending = after.filter((t) => t.desired === 'running' && t.state === 'pending').sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
      const p = pending.length ? plan({ nodes, services: snap.services, tasks: after, pending }) : { assignments: [], unplaced: [] };
      if (r.actions.length || p.assignments.length || p.unplaced.length) {
        const at = await this.store.commit(fence, snap, r.actions, p.assignments, p.unplaced, now);
        if (at === undefined) this.lostOffice();
        else this.wrote = Math.max(this.wrote, at);
      }
      this.lastError = undefined;
    } catch (e) {
      const msg = errorMessage(e);
      if (msg !== this.lastError) this.logger.warn('cluster round', { error: msg });
      this.lastError = msg;
    }
    if (!this.fence || this.closed) return undefined;
    return Math.min(this.opts.tickMs, wakeAt !== undefined ? wakeAt - Date.now() : this.opts.tickMs);
  }

  /**
   * The store as the round plans from: the mirror once it holds this
   * office's last commit (a view without it would place or create again
   * what was just written), else read from etcd.
   */
  private async view(): Promise<Snapshot> {
    const m = this.mirror;
    if (m && (await m.caughtUp(this.wrote, VIEW_WAIT_MS))) return m.snapshot();
    return this.store.snapshot();
  }

  /** Idempotent: a watch cancelled twice would never settle. */
  async stop(): Promise<void> {
    this.closed = true;
    this.loop.stop();
    const { mirror, resign } = this;
    this.mirror = this.resign = undefined;
    await mirror?.stop();
    await resign?.();
    this.fence = undefined;
  }
}

/** How long a round waits for the mirror to show the leader's last commit before it reads etcd instead. */
const VIEW_WAIT_MS = 2000;

/**
 * What wakes the leader: any change but a node's liveness rewrites (every
 * node's usage, every 2 s); of those only a node coming or going.
 */
function isNews(c: MirrorChange): boolean {
  return !c.key.startsWith('alive/') || c.value === undefined || !!c.created;
}

/**
 * New tasks get their addresses on their service's networks (the spec of
 * their version: a rollback's tasks have the previous one's), allocated
 * against every task the store holds, written with the tasks themselves.
 */
function addressNewTasks(snap: Snapshot, actions: Action[]): void {
  const creates = actions.flatMap((a) => (a.kind === 'create' ? [a.task] : []));
  if (!creates.length || !snap.networks.length) return;
  const services = new Map(snap.services.map((s) => [s.id, s]));
  const networksOf = (serviceId: string, version: number) => {
    const s = services.get(serviceId);
    return s ? (specOf(s, version).container.networks ?? []).map((n) => n.id) : [];
  };
  const requests = creates.map((t) => ({ taskId: t.id, networks: networksOf(t.serviceId, t.specVersion) })).filter((r) => r.networks.length);
  if (!requests.length) return;
  const held = [...snap.tasks].sort((a, b) => a.createdAt - b.createdAt).map((t) => ({ addresses: t.addresses, live: !isTerminal(taskState(t)) }));
  const spaces = snap.networks.map((n) => ({ id: n.id, subnet: n.subnet, gateway: n.gateway }));
  const got = addressTasks(spaces, held, requests);
  for (const t of creates) {
    const a = got.get(t.id);
    if (a) t.addresses = a;
  }
}
