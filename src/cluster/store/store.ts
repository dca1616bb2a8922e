import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, noop } from 'cockatiel';
import { Etcd3, isRecoverableError, type Lease, type Watcher } from 'etcd3';
import { conflict, errorMessage, notFound, unavailable } from '../../base/errors';
import type { Action } from '../core/actions';
import type { Credentials } from '../tls/pki';
import type { CaSpec, TlsReport } from '../tls/rotation';
import type { Availability, ClusterNetwork, ClusterNode, ClusterObject, NodeRole, Resources, Rollout, Service, Task, TaskState } from '../core/model';
import { BlobDirectory } from './blob-directory';
import { TXN_OPS, writeAll } from './txn';

/**
 * The cluster's state in etcd, one JSON value per record under a prefix:
 *   meta                 the cluster (id, join tokens)
 *   nodes/<id>           a node as managers and operators set it
 *   alive/<id>           the node's liveness, on its agent's lease (gone = down), with its real usage
 *   names/<name>         a service name taken (its id), written with the service
 *   networks/<id>        a cluster network (overlay)
 *   netnames/<name>      a network name taken (its id), written with the network
 *   secrets/<id>         a secret (its data base64), with secretnames/<name>
 *   configs/<id>         a config, with confignames/<name>
 *   services/<id>        a service's spec and version
 *   rollouts/<id>        where its roll-out stands (written by the leader only)
 *   tasks/<id>           a task as the managers want it (written by the leader only)
 *   status/<id>          how the task is (written by its node's agent only)
 *   leader               the leader's node id, on its lease
 *   prefetch/<id>        an image for some nodes to pull ahead (on a lease of its own)
 *   pulled/<id>/<node>   a node's answer to it (written by that node only, on the same lease)
 * Managers and agents never write the same key, so neither overwrites the
 * other; the leader's writes are fenced by its leadership (a transaction
 * that compares the leader key's creation revision), so a deposed leader
 * that still runs changes nothing.
 */
export interface ClusterInfo {
  id: string;
  createdAt: string;
  updatedAt?: string;
  joinTokens: { worker: string; manager: string };
  /** docker's swarm Spec.Labels; Berth's own settings are among them (`berth.rebalance.threshold`). */
  labels?: Record<string, string>;
  /** Ended tasks kept per slot (swarm's TaskHistoryRetentionLimit; absent: 5). */
  taskHistory?: number;
  /** The cluster's CA and its rotation (absent in a cluster made before rotations: a manager writes it from its own CA). */
  ca?: CaSpec;
}

export interface NodeRecord {
  id: string;
  hostname: string;
  role: NodeRole;
  availability: Availability;
  labels: Record<string, string>;
  /** Where its daemon's API is (unix:// in a lab, tcp:// across hosts). */
  addr: string;
  allocatable: Resources;
  createdAt: string;
  updatedAt: string;
}

export interface Liveness {
  /** What its containers use (from cgroups, smoothed), and each task's part. */
  usage?: ClusterNode['usage'];
  /** What its certificate and trust are (a CA rotation waits for every node's). */
  tls?: TlsReport;
  at: number;
}

export interface ServiceRecord extends Service {
  createdAt: string;
  updatedAt: string;
  /** The spec as the client gave it (docker's shape), shown back by inspect; and the one before. */
  given?: unknown;
  previousGiven?: unknown;
  /** The highest version given so far: a new spec takes the next (a rollback brings an old one back). */
  lastVersion?: number;
  /** The credentials its nodes pull its image with (docker's --with-registry-auth; never shown back). */
  registryAuth?: { username?: string; password?: string; identitytoken?: string; registrytoken?: string; serveraddress?: string };
  /** etcd's modification revision: docker's Version.Index, which updates must name. */
  index: number;
}

export interface TaskRecord extends Omit<Task, 'state'> {
  /** The planner has placed it (a global task has its node from the start). */
  assigned: boolean;
  /** Written off by the managers (its node died or left). */
  orphaned?: boolean;
}

export interface TaskStatus {
  state: TaskState;
  message?: string;
  exitCode?: number;
  containerId?: string;
  /** When it was first reported running (and healthy, with a health check). */
  startedAt?: number;
  at: number;
}

/** An image to pull on some nodes ahead of a deploy (`image prefetch --nodes`), on a lease that ends it and its reports. */
export interface Prefetch {
  id: string;
  image: string;
  /** The nodes asked (ready and matching when it was asked). */
  nodes: string[];
  leaseId: string;
  createdAt: string;
}

/** A node's answer to a prefetch. */
export interface PullReport {
  ok: boolean;
  message: string;
  seconds: number;
}

export interface Snapshot {
  revision: number;
  info?: ClusterInfo;
  /** The cluster record's modification revision: the swarm's Version.Index, which its updates name. */
  infoIndex?: number;
  /** Prefetches not yet expired, with the reports of the nodes that answered. */
  prefetches: (Prefetch & { reports: Record<string, PullReport> })[];
  nodes: (NodeRecord & { ready: boolean; usage?: Liveness['usage']; tls?: TlsReport })[];
  services: ServiceRecord[];
  tasks: (TaskRecord & { status?: TaskStatus })[];
  networks: ClusterNetwork[];
  secrets: ObjectRecord[];
  configs: ObjectRecord[];
  leader?: string;
}

/** A secret or config as stored, with its modification revision (docker's Version.Index, which updates name). */
export interface ObjectRecord extends ClusterObject {
  index: number;
}

export type ObjectKind = 'secret' | 'config';

/** A task's state as the planner and the reconciler see it: the agent's word, else where the managers put it. */
export function taskState(t: TaskRecord & { status?: TaskStatus }): TaskState {
  if (t.orphaned) return 'orphaned';
  return t.status?.state ?? (t.assigned ? 'assigned' : 'pending');
}

export function asTask(t: TaskRecord & { status?: TaskStatus }): Task {
  const { assigned: _a, orphaned: _o, status, ...rest } = t;
  return {
    ...rest, state: taskState(t), ...(status?.message ? { message: status.message } : {}), ...(status?.exitCode !== undefined ? { exitCode: status.exitCode } : {}),
    ...(status?.startedAt !== undefined ? { startedAt: status.startedAt } : {}), updatedAt: status?.at ?? t.updatedAt,
  };
}

export function asNode(n: Snapshot['nodes'][number]): ClusterNode {
  return { id: n.id, hostname: n.hostname, role: n.role, availability: n.availability, labels: n.labels, ready: n.ready, allocatable: n.allocatable, ...(n.usage ? { usage: n.usage } : {}) };
}

export interface EtcdMemberInfo {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  learner: boolean;
}

/** The leader's proof of office: its key's creation revision (fencing every write it makes). */
export interface Fence {
  nodeId: string;
  revision: number;
}

const PREFIX = '/berth/cluster/';
/** How long a call waits for a lone member that refuses connections (starting again). */
const MEMBER_RESTART_MS = 5000;
/** How long one call to a member may take before another is tried. */
const CALL_DEADLINE_MS = 5000;

export class ClusterStore {
  readonly client: Etcd3;

  /** With `creds`, over TLS with this node's certificate (the cluster's members check it against the cluster CA). */
  constructor(readonly endpoints: string[], creds?: Credentials) {
    this.client = new Etcd3({
      hosts: endpoints, dialTimeout: 3000,
      ...(creds ? { credentials: { rootCertificate: creds.ca, privateKey: creds.key, certChain: creds.cert } } : {}),
      // The client's breaker shuts a member out for 5 s after 3 failures: with one member, a slow moment would fail
      // every call for those 5 s. One member is never shut out; of several, one is for a second.
      faultHandling: {
        host: () => (endpoints.length > 1 ? circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }) : noop),
        // A watch's stream lost (a partition) is made again after a pause that grows to 2 s, not the default 30 s:
        // an agent's view of the store is its watch, and must come back soon after the network does.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }).next(),
      },
      // A member cut off does not reset its connections: without a deadline a call to it waits for TCP to give up (minutes).
      // Past it, the client's fault handling tries another member; pings find a dead stream (a watch, a lease's keep-alive).
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
      // A member gone (its host dead or cut off) is known within about 3 s, so its calls and watches move to another
      // (the members let clients ping every second: --grpc-keepalive-min-time).
      grpcOptions: { 'grpc.keepalive_time_ms': 2000, 'grpc.keepalive_timeout_ms': 1500, 'grpc.keepalive_permit_without_calls': 1 },
    });
  }

  private key(...parts: string[]): string {
    return PREFIX + parts.join('/');
  }

  close(): void {
    this.client.close();
  }

  /** Everything, read at one revision. */
  async snapshot(): Promise<Snapshot> {
    const res = await this.wrap(() => this.client.getAll().prefix(PREFIX).exec());
    return buildSnapshot(Number(res.header.revision), res.kvs.map((kv) => ({ key: kv.key.toString().slice(PREFIX.length), value: parse(kv.key.toString().slice(PREFIX.length), kv.value), mod: Number(kv.mod_revision) })));
  }

  /**
   * The store kept in memory (an informer, as Kubernetes' clients keep
   * theirs): read once, then changed by a watch from the revision read,
   * so reading it costs no call. `changed` hears each batch of changes
   * (keys without the prefix, values parsed, none for a deletion; an empty
   * batch after a full read) and decides whether they matter. A watch
   * that fails, and every minute anyway, reads it all again. A view a
   * moment behind is fine for an agent converging its own containers, and
   * for the leader once it holds the leader's own last writes (caughtUp):
   * what others wrote meanwhile is seen at the next round, as it would be
   * had they written a moment later.
   */
  async mirror(changed: (changes: MirrorChange[]) => void, failed: (what: string, e: unknown) => void): Promise<Mirror> {
    const kvs = new Map<string, { value: unknown; mod: number }>();
    let revision = 0;
    /** The revision of the last full read. */
    let listedAt = 0;
    let watcher: Watcher | undefined;
    let stopped = false;
    /** Those waiting for the view to reach a revision. */
    const waiters = new Set<{ at: number; done: (reached: boolean) => void }>();
    const wake = () => {
      for (const w of waiters) if (stopped || revision >= w.at) w.done(!stopped);
    };
    const relist = async (): Promise<void> => {
      // The watch before (a resync) stops first: its late events must not land on the fresh read.
      const old = watcher;
      watcher = undefined;
      await old?.cancel().catch(() => undefined); // cancelled with its client, or its stream already gone: nothing left to stop
      const res = await this.wrap(() => this.client.getAll().prefix(PREFIX).exec());
      kvs.clear();
      for (const kv of res.kvs) {
        const key = kv.key.toString().slice(PREFIX.length);
        kvs.set(key, { value: parse(key, kv.value), mod: Number(kv.mod_revision) });
      }
      revision = listedAt = Number(res.header.revision);
      wake();
      const w = await this.wrap(() => this.client.watch().prefix(PREFIX).startRevision(String(revision + 1)).create());
      if (stopped) return void (await w.cancel().catch(() => undefined)); // as above
      watcher = w;
      w.on('data', (res) => {
        if (watcher !== w) return;
        try {
          apply(res);
        } catch (e) {
          // A value this version cannot read: read everything again rather than keep a wrong view.
          failed('a change from the store', e);
          void resync();
        }
      });
      w.on('error', (e) => {
        failed('the store\'s watch', e);
        void resync();
      });
      changed([]);
    };
    const apply = (res: { events: { type: string; kv: { key: Buffer; value: Buffer; mod_revision: string; version: string } }[] }) => {
      const changes: MirrorChange[] = [];
      for (const e of res.events) {
        const key = e.kv.key.toString().slice(PREFIX.length);
        const at = Number(e.kv.mod_revision);
        // Already in what was read (a watch starts where the read ended; this only guards that promise).
        // One transaction's events share a revision: only those up to the read are skipped.
        if (at <= listedAt) continue;
        revision = Math.max(revision, at);
        if (e.type === 'Delete') {
          kvs.delete(key);
          changes.push({ key });
        } else {
          const value = parse(key, e.kv.value);
          kvs.set(key, { value, mod: Number(e.kv.mod_revision) });
          changes.push({ key, value, ...(e.kv.version === '1' ? { created: true } : {}) });
        }
      }
      changed(changes);
      wake();
    };
    const resync = async () => {
      if (stopped) return;
      await relist().catch((e: unknown) => failed('a full read of the store', e)); // the next minute's resync tries again
    };
    await relist();
    const timer = setInterval(() => void resync(), 60_000);
    timer.unref();
    return {
      snapshot: () => buildSnapshot(revision, [...kvs].map(([key, v]) => ({ key, value: v.value, mod: v.mod }))),
      caughtUp: (at, withinMs) => new Promise<boolean>((resolve) => {
        if (revision >= at || stopped) return resolve(!stopped);
        const w = { at, done: (reached: boolean) => {
          clearTimeout(t);
          waiters.delete(w);
          resolve(reached);
        } };
        const t = setTimeout(() => w.done(false), withinMs);
        waiters.add(w);
      }),
      stop: async () => {
        stopped = true;
        wake();
        clearInterval(timer);
        await watcher?.cancel().catch(() => undefined); // cancelled with its client already: nothing left to stop
      },
    };
  }

  /** The etcd cluster's members (a member added but not yet started has no name). */
  async members(): Promise<EtcdMemberInfo[]> {
    const r = await this.wrap(() => this.client.cluster.memberList({}));
    return r.members.map(memberInfo);
  }

  /** Adds a member at `peerUrl`, a learner (no vote, so no quorum rests on it) until promoted; the members then. */
  async addMember(peerUrl: string, learner: boolean): Promise<EtcdMemberInfo[]> {
    const r = await this.retry('the cluster store did not take a new member within 20 s', () => this.client.cluster.memberAdd({ peerURLs: [peerUrl], isLearner: learner }));
    return r.members.map(memberInfo);
  }

  /**
   * etcd refuses a change of members for a while after the last one
   * ("unhealthy cluster" until it has seen the new member active; "not in
   * sync" until a learner has caught up): tried again for 20 s.
   */
  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const until = Date.now() + 20_000;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (Date.now() > until) throw unavailable(`${what}: ${errorMessage(e)}`, e);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** A learner becomes a voting member once it has caught up with the leader. */
  async promote(id: string): Promise<void> {
    await this.retry('the new etcd member did not catch up with the cluster within 20 s', async () => {
      try {
        await this.client.cluster.memberPromote({ ID: id });
      } catch (e) {
        // A try whose answer was lost (its deadline passed) may have promoted it: a voter now is the success asked for.
        // The member list unreadable too: the promotion's own failure is the one to report.
        const voter = (await this.members().catch(() => [])).some((m) => m.id === id && !m.learner);
        if (!voter) throw e;
      }
    });
  }

  async removeMember(id: string): Promise<void> {
    await this.wrap(() => this.client.cluster.memberRemove({ ID: id }));
  }

  /**
   * Where the member this client speaks to leads the store's raft and is
   * `id`, it hands the lead to another voter: a leader that removes itself
   * can stop before the others learn the change is committed, and with two
   * members the one left would wait for a quorum that is gone.
   */
  async handOverLead(id: string): Promise<void> {
    const status = await this.wrap(() => this.client.maintenance.status());
    if (status.leader !== id) return;
    const heir = (await this.members()).find((m) => m.id !== id && !m.learner);
    if (heir) await this.wrap(() => this.client.maintenance.moveLeader({ targetID: heir.id }));
  }

  /** Makes the cluster (meta and its first node) if there is none yet; false when one exists. */
  async createCluster(info: ClusterInfo, first: NodeRecord): Promise<boolean> {
    const r = await this.wrap(() =>
      this.client.if(this.key('meta'), 'Create', '==', 0).then(this.client.put(this.key('meta')).value(JSON.stringify(info)), this.client.put(this.key('nodes', first.id)).value(JSON.stringify(first))).commit(),
    );
    return !!r.succeeded;
  }

  /** The nodes and their liveness alone (a CA rotation reads them twice a second: a snapshot would cost every task's records too). */
  async nodes(): Promise<Snapshot['nodes']> {
    const read = (kind: string) => this.wrap(() => this.client.getAll().prefix(this.key(kind, '')).exec());
    const [nodes, alive] = await Promise.all([read('nodes'), read('alive')]);
    const kvs = [...nodes.kvs, ...alive.kvs].map((kv) => ({ key: kv.key.toString().slice(PREFIX.length), value: JSON.parse(kv.value.toString()) as unknown, mod: Number(kv.mod_revision) }));
    return buildSnapshot(Number(nodes.header.revision), kvs).nodes;
  }

  /** The cluster's record alone and its version (a node reads it every few seconds: a snapshot would cost all the records). */
  async info(): Promise<{ info: ClusterInfo; index: number } | undefined> {
    const res = await this.wrap(() => this.client.get(this.key('meta')).exec());
    const kv = res.kvs[0];
    return kv ? { info: JSON.parse(kv.value.toString()) as ClusterInfo, index: Number(kv.mod_revision) } : undefined;
  }

  /** Changes the cluster's record if it is still at `index` (docker's swarm update version). */
  async updateInfo(info: ClusterInfo, index: number): Promise<void> {
    const r = await this.wrap(() => this.client.if(this.key('meta'), 'Mod', '==', index).then(this.client.put(this.key('meta')).value(JSON.stringify(info))).commit());
    if (!r.succeeded) throw conflict('rpc error: code = Unknown desc = update out of sequence: the swarm was changed since the version given');
  }

  async putNode(n: NodeRecord): Promise<void> {
    await this.wrap(() => this.client.put(this.key('nodes', n.id)).value(JSON.stringify(n)).exec());
  }

  async removeNode(id: string): Promise<void> {
    await this.wrap(() => this.client.delete().key(this.key('nodes', id)).exec());
  }

  /**
   * The node's liveness: a key on a lease of `ttlSeconds`, kept alive by
   * the etcd client, its report (usage, TLS) written anew every 2 s. The lease's
   * loss (etcd unreachable past the TTL) calls `lost`.
   */
  keepAlive(nodeId: string, ttlSeconds: number, report: () => Omit<Liveness, 'at'>, lost: (e: Error) => void): { stop(revoke: boolean): Promise<void>; poke(): void } {
    let lease: Lease | undefined;
    let timer: NodeJS.Timeout | undefined;
    let retry: NodeJS.Timeout | undefined;
    let failures = 0;
    // Each lease lost (etcd unreachable past the TTL) is replaced by a new one, so the node comes back once etcd answers
    // again: after a pause that grows to 5 s, since with etcd gone a new lease is lost at once (a loop would spin).
    const fresh = () => {
      const l = this.client.lease(ttlSeconds);
      l.on('lost', (e: Error) => {
        lost(e);
        if (lease !== l || retry) return;
        retry = setTimeout(() => {
          retry = undefined;
          if (lease === l) lease = fresh();
        }, Math.min(500 * 2 ** failures++, 5000));
        retry.unref();
      });
      return l;
    };
    lease = fresh();
    let writing = false;
    let again = false;
    const write = async () => {
      const l = lease;
      if (!l) return;
      if (writing) return void (again = true);
      writing = true;
      if (timer) clearTimeout(timer);
      const ok = await l.put(this.key('alive', nodeId)).value(JSON.stringify({ ...report(), at: Date.now() } satisfies Liveness)).then(() => true, (e: Error) => void lost(e));
      writing = false;
      if (ok) failures = 0;
      if (!lease) return;
      if (again) {
        again = false;
        return void write();
      }
      timer = setTimeout(() => void write(), 2000);
      timer.unref();
    };
    void write();
    return {
      // A report that changed (a new certificate): written now, not at the next beat.
      poke: () => void write(),
      // Revoked: the node is down at once (it leaves); not: its key lives out its TTL (a restart comes back first).
      stop: async (revoke: boolean) => {
        if (timer) clearTimeout(timer);
        if (retry) clearTimeout(retry);
        const l = lease;
        lease = undefined;
        if (revoke) await l?.revoke().catch(() => undefined); // gone already: the key went with it
        else l?.release();
      },
    };
  }

  /** A node's record as managers and operators set it (one key, not a snapshot). */
  async node(nodeId: string): Promise<NodeRecord | undefined> {
    const v = await this.wrap(() => this.client.get(this.key('nodes', nodeId)).string());
    return v ? (JSON.parse(v) as NodeRecord) : undefined;
  }

  /** A node's cluster endpoint (host:port), as its record has it. */
  async nodeAddr(nodeId: string): Promise<string | undefined> {
    return (await this.node(nodeId))?.addr;
  }

  /** Where blobs are held and fetched, for this node (see BlobDirectory). */
  blobDirectory(nodeId: string): BlobDirectory {
    return new BlobDirectory(this.client, nodeId);
  }

  /** The cluster's networks alone (one prefix read, not a snapshot: `network ls` and inspect ask often). */
  async networks(): Promise<ClusterNetwork[]> {
    const kvs = await this.wrap(() => this.client.getAll().prefix(this.key('networks', '')).strings());
    return Object.values(kvs).map((v) => JSON.parse(v) as ClusterNetwork);
  }

  /** A new network, its name taken in the same transaction (a name in use is a conflict, as docker's). */
  async createNetwork(n: ClusterNetwork): Promise<void> {
    const r = await this.wrap(() =>
      this.client
        .if(this.key('netnames', n.name), 'Create', '==', 0)
        .then(this.client.put(this.key('netnames', n.name)).value(n.id), this.client.put(this.key('networks', n.id)).value(JSON.stringify(n)))
        .commit(),
    );
    if (!r.succeeded) throw conflict(`rpc error: code = AlreadyExists desc = network with name ${n.name} already exists`);
  }

  async removeNetwork(n: ClusterNetwork): Promise<void> {
    await this.wrap(() =>
      this.client.if(this.key('networks', n.id), 'Create', '>', 0).then(this.client.delete().key(this.key('networks', n.id)), this.client.delete().key(this.key('netnames', n.name))).commit(),
    );
  }

  /** A new secret or config, its name taken in the same transaction. */
  /** The secrets or configs alone (not a whole snapshot), each with its version. */
  async objects(kind: ObjectKind): Promise<ObjectRecord[]> {
    const res = await this.wrap(() => this.client.getAll().prefix(this.key(`${kind}s`, '')).exec());
    return res.kvs.map((kv) => ({ ...(JSON.parse(kv.value.toString()) as ClusterObject), index: Number(kv.mod_revision) }));
  }

  async createObject(kind: ObjectKind, o: ClusterObject): Promise<void> {
    const r = await this.wrap(() =>
      this.client
        .if(this.key(`${kind}names`, o.name), 'Create', '==', 0)
        .then(this.client.put(this.key(`${kind}names`, o.name)).value(o.id), this.client.put(this.key(`${kind}s`, o.id)).value(JSON.stringify(o)))
        .commit(),
    );
    if (!r.succeeded) throw conflict(`rpc error: code = AlreadyExists desc = ${kind} ${o.name} already exists`);
  }

  /** Its labels changed, if it is still at `index`. */
  async updateObject(kind: ObjectKind, o: ObjectRecord, index: number): Promise<void> {
    const { index: _i, ...rec } = o;
    const r = await this.wrap(() => this.client.if(this.key(`${kind}s`, o.id), 'Mod', '==', index).then(this.client.put(this.key(`${kind}s`, o.id)).value(JSON.stringify(rec))).commit());
    if (!r.succeeded) throw conflict(`rpc error: code = Unknown desc = update out of sequence: ${kind} ${o.id} was changed since the version given`);
  }

  async removeObject(kind: ObjectKind, o: ClusterObject): Promise<void> {
    await this.wrap(() =>
      this.client.if(this.key(`${kind}s`, o.id), 'Create', '>', 0).then(this.client.delete().key(this.key(`${kind}s`, o.id)), this.client.delete().key(this.key(`${kind}names`, o.name))).commit(),
    );
  }

  /** A new service, its name taken in the same transaction (a name in use is a conflict, as docker's); what it names must still be there. */
  async createService(s: Omit<ServiceRecord, 'index'>): Promise<void> {
    const r = await this.wrap(() =>
      this.namedExist(this.client.if(this.key('names', s.spec.name), 'Create', '==', 0), s)
        .then(this.client.put(this.key('names', s.spec.name)).value(s.id), this.client.put(this.key('services', s.id)).value(serviceValue(s)))
        .commit(),
    );
    if (!r.succeeded) {
      const gone = await this.missingRecord(s);
      if (gone) throw notFound(`${gone} not found`);
      throw conflict(`rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ${s.spec.name} already exists`);
    }
  }

  /** A transaction's comparisons, with: each network, secret and config the service names still exists (one removed meanwhile fails it). */
  private namedExist<T extends { and(key: string, column: 'Create', cmp: '>', value: number): T }>(txn: T, s: Pick<ServiceRecord, 'spec'>): T {
    for (const n of this.named(s)) txn = txn.and(n.key, 'Create', '>', 0);
    return txn;
  }

  /** The records a service names (networks, secrets, configs), their keys and how to name one: each must exist when it is written. */
  private named(s: Pick<ServiceRecord, 'spec'>): { key: string; what: string }[] {
    const c = s.spec.container;
    return [
      ...(c.networks ?? []).map((n) => ({ key: this.key('networks', n.id), what: `network ${n.id}` })),
      ...(c.files ?? []).map((f) => ({ key: this.key(`${f.kind}s`, f.id), what: `${f.kind} ${f.id}` })),
    ];
  }

  /** The first record the service names that is gone, as "network ID" (after a refused write, to say why). */
  private async missingRecord(s: Pick<ServiceRecord, 'spec'>): Promise<string | undefined> {
    for (const n of this.named(s)) {
      if (!(await this.wrap(() => this.client.get(n.key).string()))) return n.what;
    }
    return undefined;
  }

  /**
   * Changes a service if it is still at `index` (docker's update version):
   * otherwise someone else changed it first. Its roll-out status goes, as
   * swarm resets UpdateStatus: the change gets its own (or none, scaling).
   */
  async updateService(s: ServiceRecord, index: number): Promise<void> {
    const r = await this.wrap(() =>
      this.namedExist(this.client.if(this.key('services', s.id), 'Mod', '==', index), s)
        .then(this.client.put(this.key('services', s.id)).value(serviceValue(s)), this.client.delete().key(this.key('rollouts', s.id)))
        .commit(),
    );
    if (!r.succeeded) {
      const gone = await this.missingRecord(s);
      if (gone) throw notFound(`${gone} not found`);
      throw invalidVersion(s.id);
    }
  }

  async removeService(s: ServiceRecord): Promise<void> {
    await this.wrap(() =>
      this.client
        .if(this.key('services', s.id), 'Create', '>', 0)
        .then(this.client.delete().key(this.key('services', s.id)), this.client.delete().key(this.key('names', s.spec.name)), this.client.delete().key(this.key('rollouts', s.id)))
        .commit(),
    );
  }

  /** The agent's word on its task. */
  /** A prefetch, on a lease of `ttlSeconds` without keep-alive: it and the nodes' reports go by themselves. */
  async putPrefetch(p: Omit<Prefetch, 'leaseId'>, ttlSeconds: number): Promise<Prefetch> {
    const lease = this.client.lease(ttlSeconds, { autoKeepAlive: false });
    const leaseId = await this.wrap(() => lease.grant());
    const rec = { ...p, leaseId };
    await this.wrap(() => this.client.put(this.key('prefetch', p.id)).value(JSON.stringify(rec)).lease(leaseId).exec());
    return rec;
  }

  /** A node's answer to a prefetch, on the prefetch's lease. */
  async reportPull(p: Prefetch, nodeId: string, r: PullReport): Promise<void> {
    await this.wrap(() => this.client.put(this.key('pulled', p.id, nodeId)).value(JSON.stringify(r)).lease(p.leaseId).exec());
  }

  /** A node's reports of its tasks, in as few transactions as etcd takes (one round's reports are one write, not one each). */
  async setStatuses(reports: [taskId: string, status: TaskStatus][]): Promise<void> {
    const ops = reports.map(([id, st]) => this.client.put(this.key('status', id)).value(JSON.stringify(st)));
    await this.wrap(() => writeAll(this.client, this.key('status'), ops));
  }

  /**
   * The leader's changes: reconcile's actions, the planner's placements and
   * reasons, applied to the records of `snap`, written in transactions
   * fenced by its leadership. Returns the revision of its last write, or
   * undefined when it is no longer leader (nothing of a refused
   * transaction is written).
   */
  async commit(fence: Fence, snap: Snapshot, actions: Action[], placed: { taskId: string; nodeId: string }[], unplaced: { taskId: string; reason: string }[], now: number): Promise<number | undefined> {
    let revision = 0;
    const tasks = new Map(snap.tasks.map((t) => [t.id, t]));
    const puts = new Map<string, TaskRecord>();
    const dels: string[] = [];
    const rec = (id: string) => puts.get(id) ?? (tasks.get(id) ? stripStatus(tasks.get(id)!) : undefined);
    const rollouts = new Map<string, Rollout>();
    const rollbacks = new Map<string, string>();
    for (const a of actions) {
      if (a.kind === 'rollout') rollouts.set(a.serviceId, a.rollout);
      else if (a.kind === 'rollback') rollbacks.set(a.serviceId, a.message);
      else if (a.kind === 'create') {
        const { state: _s, ...t } = a.task;
        puts.set(t.id, { ...t, assigned: false });
      } else if (a.kind === 'remove') {
        puts.delete(a.taskId);
        dels.push(a.taskId);
      } else {
        const t = rec(a.taskId);
        if (!t) continue;
        puts.set(a.taskId, { ...t, desired: 'shutdown', message: a.message, ...(a.kind === 'orphan' ? { orphaned: true, updatedAt: now } : {}) });
      }
    }
    for (const p of placed) {
      const t = rec(p.taskId);
      if (t) puts.set(p.taskId, { ...t, nodeId: p.nodeId, assigned: true, message: undefined, updatedAt: now });
    }
    for (const u of unplaced) {
      const t = rec(u.taskId);
      if (t && t.message !== u.reason) puts.set(u.taskId, { ...t, message: u.reason });
    }
    // A roll-out's status (and a rollback) only for the service as read: one an operator changed since starts anew.
    for (const [id, ro] of rollouts) {
      const sv = snap.services.find((x) => x.id === id);
      if (!sv) continue;
      const back = rollbacks.get(id);
      const ops = [this.client.put(this.key('rollouts', id)).value(JSON.stringify(ro)), ...(back !== undefined && sv.previous ? [this.client.put(this.key('services', id)).value(serviceValue(rolledBack(sv, back)))] : [])];
      const r = await this.wrap(() => this.client.if(this.key('leader'), 'Create', '==', fence.revision).and(this.key('services', id), 'Mod', '==', sv.index).then(...ops).commit());
      revision = Math.max(revision, Number(r.header.revision));
    }
    const ops = [
      ...[...puts.values()].map((t) => this.client.put(this.key('tasks', t.id)).value(JSON.stringify(t))),
      ...dels.flatMap((id) => [this.client.delete().key(this.key('tasks', id)), this.client.delete().key(this.key('status', id))]),
    ];
    for (let i = 0; i < ops.length; i += TXN_OPS) {
      const r = await this.wrap(() => this.client.if(this.key('leader'), 'Create', '==', fence.revision).then(...ops.slice(i, i + TXN_OPS)).commit());
      if (!r.succeeded) return undefined;
      revision = Math.max(revision, Number(r.header.revision));
    }
    return revision;
  }

  /**
   * Leadership: the leader key on this manager's lease, taken only when
   * nobody holds it (a transaction on its creation revision, not the
   * client's election helper, whose hand-over has known bugs). Resolves with
   * the fence once won; `lost` is called when the lease is lost.
   */
  async campaign(nodeId: string, ttlSeconds: number, lost: () => void): Promise<{ fence: Fence; resign(): Promise<void> }> {
    const lease = this.client.lease(ttlSeconds);
    const leaseId = await this.wrap(() => lease.grant());
    let resigned = false;
    lease.on('lost', () => {
      if (!resigned) lost();
    });
    const key = this.key('leader');
    for (;;) {
      const r = await this.wrap(() => this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(nodeId).lease(leaseId)).else(this.client.get(key)).commit());
      if (r.succeeded) {
        const revision = Number(r.header.revision);
        return {
          fence: { nodeId, revision },
          resign: async () => {
            resigned = true;
            await lease.revoke().catch(() => undefined); // its key goes with it; gone already is as good
          },
        };
      }
      await this.deleted(key);
    }
  }

  /**
   * Resolves when the key is deleted, or after a second, to look again: a
   * watch on a member that just died sees nothing, and a missed event costs
   * a second only.
   */
  private async deleted(key: string): Promise<void> {
    const w = await this.wrap(() => this.client.watch().key(key).create());
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      w.on('delete', () => {
        clearTimeout(t);
        resolve();
      });
    });
    await w.cancel().catch(() => undefined); // a watch on a closed client is gone already
  }

  /**
   * A call, its failure said once. A manager's own member that refuses
   * connections is starting again (its supervisor's restart, or a CA
   * rotation's): the call waits for it a few seconds (nothing was sent, so
   * a write is not made twice), and the API does not blink.
   */
  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    const until = Date.now() + MEMBER_RESTART_MS;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        const refused = this.endpoints.length === 1 && /ECONNREFUSED|No connection established/.test(errorMessage(e));
        if (!refused || Date.now() > until) throw unavailable(`the cluster store (etcd at ${this.endpoints.join(', ')}) did not answer: ${errorMessage(e)}`, e);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}

/** The store kept in memory (ClusterStore.mirror). */
export interface Mirror {
  snapshot(): Snapshot;
  /** Resolves true once the view holds every write up to revision `at`; false after `withinMs` (its watch lagging or broken) or once stopped. */
  caughtUp(at: number, withinMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** A key changed (without the prefix): its new value, none for a deletion; `created` when the put made it. */
export interface MirrorChange {
  key: string;
  value?: unknown;
  created?: boolean;
}

/** The leader key and service names hold plain ids; every other value is JSON. */
function parse(key: string, v: Buffer): unknown {
  return key === 'leader' || /^(names|netnames|secretnames|confignames)\//.test(key) ? v.toString() : JSON.parse(v.toString());
}

/** The records of one revision, from their keys (without the prefix) and values. */
function buildSnapshot(revision: number, kvs: { key: string; value: unknown; mod: number }[]): Snapshot {
  const out: Snapshot = { revision, nodes: [], services: [], tasks: [], prefetches: [], networks: [], secrets: [], configs: [] };
  const reports = new Map<string, Record<string, PullReport>>();
  const alive = new Map<string, Liveness>();
  const status = new Map<string, TaskStatus>();
  const rollouts = new Map<string, Rollout>();
  const nodes: NodeRecord[] = [];
  const tasks: TaskRecord[] = [];
  for (const kv of kvs) {
    const [kind, id] = kv.key.split('/');
    if (kind === 'meta') {
      out.info = kv.value as ClusterInfo;
      out.infoIndex = kv.mod;
    } else if (kind === 'leader') out.leader = String(kv.value);
    else if (kind === 'nodes') nodes.push(kv.value as NodeRecord);
    else if (kind === 'alive') alive.set(id, kv.value as Liveness);
    else if (kind === 'services') out.services.push({ ...(kv.value as ServiceRecord), index: kv.mod });
    else if (kind === 'tasks') tasks.push(kv.value as TaskRecord);
    else if (kind === 'networks') out.networks.push(kv.value as ClusterNetwork);
    else if (kind === 'secrets') out.secrets.push({ ...(kv.value as ClusterObject), index: kv.mod });
    else if (kind === 'configs') out.configs.push({ ...(kv.value as ClusterObject), index: kv.mod });
    else if (kind === 'status') status.set(id, kv.value as TaskStatus);
    else if (kind === 'rollouts') rollouts.set(id, kv.value as Rollout);
    else if (kind === 'prefetch') out.prefetches.push({ ...(kv.value as Prefetch), reports: {} });
    else if (kind === 'pulled') reports.set(id, { ...reports.get(id), [kv.key.split('/')[2]]: kv.value as PullReport });
  }
  for (const p of out.prefetches) p.reports = reports.get(p.id) ?? {};
  out.services = out.services.map((sv) => (rollouts.has(sv.id) ? { ...sv, rollout: rollouts.get(sv.id) } : sv));
  out.nodes = nodes.map((n) => {
    const a = alive.get(n.id);
    return { ...n, ready: !!a, ...(a?.usage ? { usage: a.usage } : {}), ...(a?.tls ? { tls: a.tls } : {}) };
  });
  out.tasks = tasks.map((t) => ({ ...t, ...(status.has(t.id) ? { status: status.get(t.id) } : {}) }));
  return out;
}

/**
 * The leader's rollback of a failed roll-out (swarm's): the previous spec
 * comes back under its own version, and is forgotten as previous (a
 * rollback is not rolled back).
 */
function rolledBack(sv: ServiceRecord, message: string): ServiceRecord {
  const { previous, previousGiven, rollout: _r, ...rest } = sv;
  return { ...rest, spec: previous!.spec, version: previous!.version, given: previousGiven, rollingBack: message, updatedAt: new Date().toISOString() };
}

function memberInfo(m: { ID: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner?: boolean }): EtcdMemberInfo {
  return { id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, learner: !!m.isLearner };
}

/** A service as stored: its etcd revision and its roll-out (the leader's key) are not part of it. */
function serviceValue(s: Omit<ServiceRecord, 'index'> & { index?: number }): string {
  const { index: _i, rollout: _r, ...rec } = s;
  return JSON.stringify(rec);
}

function stripStatus(t: TaskRecord & { status?: TaskStatus }): TaskRecord {
  const { status: _s, ...rest } = t;
  return rest;
}

export function invalidVersion(id: string) {
  return conflict(`rpc error: code = Unknown desc = update out of sequence: service ${id} was changed since the version given`);
}

