import { timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BerthError, conflict, errorMessage, invalidArgument, notFound, unavailable } from '../base/errors';
import { run } from '../base/exec';
import { atomicWriteJson, readJsonIfExists } from '../base/files';
import type { Logger } from '../base/log';
import { Agent, type AgentEngine } from './agent/agent';
import { PeerBlobs } from './agent/peer-blobs';
import { UsageMeter } from './agent/usage';
import { swarmId } from './core/ids';
import { REBALANCE_THRESHOLD_LABEL } from './core/rebalancer';
import type { Availability, NodeRole, ServiceSpec } from './core/model';
import { type DockerServiceSpec, fromDockerSpec, toDockerNode, toDockerService, taskTemplateOf, toDockerSwarm, toDockerTask } from './docker-shape';
import { labelMatches } from '../engine/system/present';
import { Manager } from './manager/manager';
import { asNetworkRecord, findNetwork, networkUsers, planNetwork } from './networks';
import { filterObjects, findObject, objectsOf, type ObjectSpec, objectUsers, planObject, toDockerObject } from './objects';
import type { NetworkCreateRequest, NetworkRecord } from '../engine/networks/network-store';
import type { Credentials as RegistryCredentials } from '../engine/images/registries';
import { serveTaskLogs } from './node-endpoint';
import { type ServiceLogOptions, serviceLogs } from './service-logs';
import { ClusterEndpoint } from './tls/endpoint';
import { type JoinGrant, type JoinRequest, type Promotion, type Renewal, requestJoin, requestPromotion } from './tls/join';
import { caDigest, type Credentials, DEFAULT_CERT_EXPIRY_SECONDS, issueOwn, joinToken, makeCa, makeKeyAndRequest, MIN_CERT_EXPIRY_SECONDS, readCredentials, signRequest, tlsFiles, tokenDigest } from './tls/pki';
import { pemCerts } from './tls/cert-info';
import { ClusterCa } from './cluster-ca';
import { EtcdMember, freePort, type MemberConfig, peerUrlOf, portFree } from './store/etcd-member';
import { ClusterStore, type EtcdMemberInfo, type NodeRecord, type ObjectKind, type ServiceRecord, type Snapshot, taskState } from './store/store';

/** What a node keeps of its cluster under its data root (the rest is in etcd). */
interface LocalState {
  clusterId: string;
  nodeId: string;
  role: NodeRole;
  endpoints: string[];
  /** The etcd member this daemon runs (the embedded default), if any. */
  member?: MemberConfig;
  /** The address this node is reached at. */
  addr?: string;
  /** Its certificates are under cluster/tls (clusters made before mutual TLS have none). */
  tls?: boolean;
  /** The node's cluster endpoint (swarm's 2377 where free): managers take joins there, and reach the node. */
  port?: number;
}

/** How long a node's liveness outlives its last keep-alive: a dead node is known this long after it dies, at most. */
export const LIVENESS_TTL_SECONDS = 5;
/** swarm's cluster port: managers take joins there. */
const SWARM_PORT = 2377;
/** How often a node asks for the store's members (managers come and go). */
const MEMBERS_EVERY_MS = 30_000;
/** How soon a node looks at the CA again while a rotation is under way (else every ROLE_EVERY_MS). */
const CA_SOON_MS = 500;
/** How long a store client replaced by a reload stays open for the calls made through it. */
const PREVIOUS_STORE_MS = 15_000;
/** How often a node looks whether the managers changed its role (node promote|demote). */
const ROLE_EVERY_MS = 2000;
/** How often the node reads its cgroups for its real load. */
const USAGE_EVERY_MS = 2000;

const notManager = () =>
  new BerthError('unavailable', 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');

/**
 * This daemon's part in a cluster: none, or a node (its agent always, a
 * manager's loop where it is one), with the store's client and, for the
 * embedded default, the etcd member it runs. The Engine API's swarm
 * endpoints and `berth cluster|service|node` come here.
 */
export class ClusterService {
  private state?: LocalState;
  private member?: EtcdMember;
  private store?: ClusterStore;
  private manager?: Manager;
  private agent?: Agent;
  private blobs?: PeerBlobs;
  private alive?: { stop(revoke: boolean): Promise<void>; poke(): void };
  private sampler?: NodeJS.Timeout;
  private membersTimer?: NodeJS.Timeout;
  private roleTimer?: NodeJS.Timeout;
  /** A restart with new members is under way (one at a time). */
  private restarting = false;
  private endpoint?: ClusterEndpoint | void;
  /** The start at open, while it runs (close waits for it, so nothing it starts outlives the daemon). */
  private starting?: Promise<void>;
  private closing = false;
  private readonly ca: ClusterCa;
  private caBusy = false;

  private constructor(
    private readonly dir: string,
    private readonly engine: AgentEngine,
    private readonly logger: Logger,
    private readonly engineVersion: string,
    /** This node's name in the cluster (the host's name unless the daemon was given one). */
    private readonly nodeName: string,
  ) {
    this.ca = new ClusterCa(path.join(dir, 'tls'), logger);
  }

  static async open(dataRoot: string, engine: AgentEngine, logger: Logger, engineVersion: string, nodeName = os.hostname()): Promise<ClusterService> {
    const c = new ClusterService(path.join(dataRoot, 'cluster'), engine, logger, engineVersion, nodeName);
    const st = await readJsonIfExists<LocalState>(path.join(c.dir, 'state.json'));
    if (st) {
      c.state = st;
      // In the background: a daemon whose cluster store does not answer still serves its API and runs its containers.
      c.starting = c.runUntilUp();
    }
    return c;
  }

  get joined(): boolean {
    return !!this.state;
  }

  get nodeId(): string | undefined {
    return this.state?.nodeId;
  }

  /** `swarm init`: this daemon becomes the first manager of a new cluster, with its CA and an etcd member of its own. */
  async init(o: { advertiseAddr?: string; certExpiryNs?: number } = {}): Promise<string> {
    if (this.state) throw new BerthError('unavailable', 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.');
    const host = o.advertiseAddr ? o.advertiseAddr.replace(/:\d+$/, '') : '127.0.0.1';
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(host)) throw invalidArgument(`advertise address must be an IPv4 address (an interface name is not supported): ${o.advertiseAddr}`);
    const nodeId = swarmId();
    const clusterId = swarmId();
    const expiry = o.certExpiryNs ? Math.round(o.certExpiryNs / 1e9) : DEFAULT_CERT_EXPIRY_SECONDS;
    if (expiry < MIN_CERT_EXPIRY_SECONDS) throw invalidArgument(`node certificate expiry must be at least ${MIN_CERT_EXPIRY_SECONDS / 3600}h0m0s`);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      await makeCa(this.tlsDir, clusterId);
      await issueOwn(this.tlsDir, { nodeId, clusterId, role: 'manager', ip: host }, expiry);
      const member: MemberConfig = {
        name: nodeId, dataDir: path.join(this.dir, 'etcd', 'data'), host, clientPort: await freePort(host), peerPort: await freePort(host), initialCluster: '', state: 'new', tlsDir: this.tlsDir,
      };
      member.initialCluster = `${nodeId}=${peerUrlOf(member)}`;
      this.state = { clusterId, nodeId, role: 'manager', endpoints: [`${host}:${member.clientPort}`], member, addr: host, tls: true, port: await clusterPort(host) };
      await this.run();
      const now = new Date().toISOString();
      const digest = caDigest(fs.readFileSync(tlsFiles(this.tlsDir).ca));
      const made = await this.store!.createCluster({
        id: clusterId, createdAt: now, joinTokens: { worker: joinToken(digest), manager: joinToken(digest) }, ca: ClusterCa.initial(this.tlsDir, expiry),
      }, this.nodeRecord(nodeId, 'manager', now));
      if (!made) throw invalidArgument('the cluster store already holds a cluster');
      await atomicWriteJson(path.join(this.dir, 'state.json'), this.state);
      this.manager?.kick();
      return nodeId;
    } catch (e) {
      // Nothing half-made: the member, its data and the certificates go.
      await this.shutdown(true);
      this.state = undefined;
      fs.rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
  }

  private get tlsDir(): string {
    return path.join(this.dir, 'tls');
  }

  private credentials(st: LocalState): Credentials | undefined {
    return st.tls ? readCredentials(this.tlsDir) : undefined;
  }

  /**
   * `swarm join`: this daemon joins the cluster whose store is at one of
   * `remoteAddrs` (a manager's address as `swarm init` printed it), as a
   * worker or a manager by the token it holds. A manager adds an etcd
   * member of its own, first as a learner (which counts for no quorum, so
   * a member that never comes up breaks nothing), promoted once it has
   * caught up. A wrong token, or no cluster there, is refused and nothing
   * is written.
   */
  async join(o: { remoteAddrs: string[]; token: string; advertiseAddr?: string }): Promise<void> {
    if (this.state) throw new BerthError('unavailable', 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.');
    if (!o.remoteAddrs.length) throw invalidArgument('at least 1 RemoteAddr is required to join');
    const digest = tokenDigest(o.token);
    if (!digest) throw invalidArgument('invalid join token');
    let st: LocalState;
    let learner: string | undefined;
    let probe: ClusterStore | undefined;
    try {
      const host = await advertiseHost(o.advertiseAddr, o.remoteAddrs[0]);
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const grant = await this.askToJoin(o.remoteAddrs, digest, { token: o.token, csr: await makeKeyAndRequest(this.tlsDir), ip: host });
      const f = tlsFiles(this.tlsDir);
      fs.writeFileSync(f.trust, grant.ca);
      fs.writeFileSync(f.ca, grant.caCert ?? `${pemCerts(grant.ca)[0]}\n`);
      fs.writeFileSync(f.cert, grant.cert);
      if (grant.caKey) fs.writeFileSync(f.caKey, grant.caKey, { mode: 0o600 });
      probe = new ClusterStore(grant.endpoints, readCredentials(this.tlsDir));
      const base = { clusterId: grant.clusterId, nodeId: grant.nodeId, role: grant.role, addr: host, tls: true, port: await clusterPort(host) };
      if (grant.role === 'worker') {
        st = { ...base, endpoints: grant.endpoints };
      } else {
        const added = await this.addOwnMember(probe, grant.nodeId, host, (id) => (learner = id));
        st = { ...base, endpoints: [`${host}:${added.member.clientPort}`, ...clientEndpoints(added.members)], member: added.member };
      }
    } catch (e) {
      // Nothing half-made: a learner added goes again (it counts for no quorum, so this works with it down).
      if (learner) await probe?.removeMember(learner).catch((err) => this.logger.warn('removal of the learner of a failed join', { error: errorMessage(err) }));
      await this.member?.stop();
      this.member = undefined;
      fs.rmSync(this.dir, { recursive: true, force: true });
      throw e;
    } finally {
      probe?.close();
    }
    this.state = st;
    try {
      await this.run();
      await this.store!.putNode(this.nodeRecord(st.nodeId, st.role, new Date().toISOString()));
      await atomicWriteJson(path.join(this.dir, 'state.json'), st);
    } catch (e) {
      await this.leaveStore();
      await this.shutdown(true);
      this.state = undefined;
      fs.rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Asks the managers given, in turn, until one answers; a refusal (a wrong token or CA) is final. */
  private async askToJoin(addrs: string[], digest: string, r: JoinRequest): Promise<JoinGrant> {
    let last: unknown;
    for (const addr of addrs) {
      try {
        return await requestJoin(addr, digest, r);
      } catch (e) {
        if (e instanceof BerthError && e.code === 'invalid_argument') throw e;
        last = e;
      }
    }
    throw last;
  }

  /**
   * A manager's answer to a join: the token names the role; the node gets
   * an id, a certificate for it signed by the cluster's CA, the CA (and,
   * a manager, its key: every manager can sign) and the store's members.
   */
  private async grantJoin(r: JoinRequest): Promise<JoinGrant> {
    const store = this.managerStore();
    const [snap, members] = await Promise.all([store.snapshot(), store.members()]);
    const info = snap.info;
    if (!info) throw unavailable('the cluster store holds no cluster');
    const role = sameSecret(r.token, info.joinTokens.manager) ? 'manager' : sameSecret(r.token, info.joinTokens.worker) ? 'worker' : undefined;
    if (!role) throw invalidArgument('rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster');
    const nodeId = swarmId();
    const f = tlsFiles(this.tlsDir);
    const cert = await this.ca.sign(info.ca, String(r.csr ?? ''), { nodeId, clusterId: info.id, role, ip: String(r.ip ?? '') });
    return {
      clusterId: info.id, nodeId, role, cert, ca: this.ca.trustBundle(info.ca),
      ...(role === 'manager' ? { caKey: fs.readFileSync(f.caKey, 'utf8'), caCert: fs.readFileSync(f.ca, 'utf8') } : {}), endpoints: clientEndpoints(members),
    };
  }

  /**
   * A member of this node's own joins the store's cluster: added as a
   * learner (no vote, so a member that never comes up costs no quorum),
   * started, promoted once it has caught up. `added` learns the learner's
   * id at once, so a failure after can take it out again.
   */
  private async addOwnMember(store: ClusterStore, nodeId: string, host: string, added: (id: string) => void): Promise<{ member: MemberConfig; members: EtcdMemberInfo[] }> {
    const member: MemberConfig = {
      name: nodeId, dataDir: path.join(this.dir, 'etcd', 'data'), host, clientPort: await freePort(host), peerPort: await freePort(host), initialCluster: '', state: 'existing', tlsDir: this.tlsDir,
    };
    const peerUrl = peerUrlOf(member);
    const members = await store.addMember(peerUrl, true);
    const learner = members.find((m) => m.peerUrls.includes(peerUrl))!.id;
    added(learner);
    member.initialCluster = members.map((m) => `${m.name || nodeId}=${m.peerUrls[0]}`).join(',');
    this.member = new EtcdMember(member, this.logger);
    await this.member.start();
    await store.promote(learner);
    return { member, members };
  }

  private nodeRecord(id: string, role: NodeRole, now: string): NodeRecord {
    return {
      // Where its cluster endpoint is (what `swarm join` is given of a manager, and where managers reach the node).
      id, hostname: this.nodeName, role, availability: 'active', labels: {}, addr: endpointAddr(this.state) ?? this.state?.addr ?? '',
      allocatable: { nanoCpus: os.cpus().length * 1e9, memoryBytes: os.totalmem() }, createdAt: now, updatedAt: now,
    };
  }

  /** Starts this node's part, tried again (backing off to 10 s) until it runs or the daemon stops. */
  private async runUntilUp(): Promise<void> {
    let last = '';
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await this.run();
        return;
      } catch (e) {
        const msg = errorMessage(e);
        if (msg !== last) this.logger.warn('cluster start; trying again', { error: msg });
        last = msg;
        await this.shutdown();
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 10_000)).unref());
      }
    }
  }

  /** Starts what this node runs: its member, the store's client, liveness, agent, manager. */
  private async run(): Promise<void> {
    if (this.state!.member && !this.member) this.state = await this.afterRemoval(this.state!);
    const st = this.state!;
    if (st.member && !this.member) {
      this.member = new EtcdMember(st.member, this.logger);
      await this.member.start();
    }
    await this.refreshEndpoints(st);
    // A manager speaks to its own member alone, which forwards to etcd's leader: a member that died elsewhere never
    // holds up its calls (a client with several members waits out a call's deadline on a dead one before it moves on).
    const previous = this.store;
    this.store = new ClusterStore(st.member ? ownMember(st) : st.endpoints, this.credentials(st));
    // Kept by a reload (new certificates) until the calls made through it end: the API does not blink.
    if (previous) setTimeout(() => previous.close(), PREVIOUS_STORE_MS).unref();
    // Five seconds without this node's keep-alive and the managers move its tasks (a daemon restart is quicker).
    const meter = new UsageMeter(os.cpus().length);
    const sample = () => void this.engine.usage().then((r) => meter.add({ at: Date.now(), ...r }), (e: unknown) => this.logger.warn('cluster usage', { error: errorMessage(e) }));
    sample();
    this.sampler = setInterval(sample, USAGE_EVERY_MS).unref();
    const report = () => ({ usage: meter.current(), ...(this.ca.report ? { tls: this.ca.report } : {}) });
    this.alive = this.store.keepAlive(st.nodeId, LIVENESS_TTL_SECONDS, report, (e) => this.logger.warn('cluster liveness', { error: errorMessage(e) }));
    const store = this.store;
    // Blobs from the other nodes first: only among nodes that hold certificates (a cluster made before TLS has none).
    this.blobs = st.tls ? new PeerBlobs(store.blobDirectory(st.nodeId), (id) => store.nodeAddr(id), st.nodeId, readCredentials(this.tlsDir), this.engine, this.logger) : undefined;
    this.engine.useBlobSource(this.blobs?.sourcing);
    this.blobs?.start();
    this.agent = new Agent(this.store, st.nodeId, this.engine, this.logger);
    await this.agent.start();
    this.membersTimer = setInterval(() => void this.followMembers(), MEMBERS_EVERY_MS).unref();
    if (st.tls) this.roleTimer = setInterval(() => void this.followRole().then(() => this.followCa()), ROLE_EVERY_MS).unref();
    if (st.role === 'manager') {
      this.manager = new Manager(this.store, st.nodeId, this.logger);
      this.manager.start();
    }
    if (st.tls && st.port && st.addr) {
      // Without it the node still runs its tasks; only joins through it and its logs for the managers wait (a restart tries again).
      const blobs = this.blobs;
      const handlers = {
        taskLogs: (id: string, q: URLSearchParams, res: ServerResponse, signal: AbortSignal) => serveTaskLogs(this.engine, id, q, res, signal),
        ...(blobs ? { blob: (digest: string, offset: number, wait: boolean) => blobs.serve(digest, offset, wait) } : {}),
        ...(st.role === 'manager' ? {
          join: (r: JoinRequest) => this.grantJoin(r), promote: (id: string, csr: string) => this.grantPromotion(id, csr),
          renew: (id: string, csr: string) => this.grantRenewal(id, csr), caKey: (key: string) => this.ca.caKey(key),
        } : {}),
      };
      this.endpoint = await ClusterEndpoint.listen(st.addr, st.port, readCredentials(this.tlsDir), handlers, this.logger)
        .catch((e: unknown) => void this.logger.warn('cluster endpoint', { port: st.port, error: errorMessage(e) }));
    }
  }

  /**
   * The store's members as the cluster has them now (managers come and go),
   * asked before the client is made, so a node reaches the store through
   * any manager that is left; kept for the next start. A store that does
   * not answer leaves them as they were.
   */
  private async refreshEndpoints(st: LocalState): Promise<void> {
    const probe = new ClusterStore(st.endpoints, this.credentials(st));
    try {
      const own = ownMember(st);
      const endpoints = [...new Set([...own, ...clientEndpoints(await probe.members())])];
      if (!endpoints.length || JSON.stringify(endpoints) === JSON.stringify(st.endpoints)) return;
      st.endpoints = endpoints;
      await atomicWriteJson(path.join(this.dir, 'state.json'), st);
    } catch (e) {
      this.logger.warn('cluster members', { error: errorMessage(e) });
    } finally {
      probe.close();
    }
  }

  /**
   * Every 30 s, the store's members as they are now. When managers came or
   * went since a worker's part started, it starts again with them, so it
   * reaches the store through any manager that is left, not only those it
   * knew at its start: a worker that joined a lone manager would otherwise
   * be lost with that manager. A manager keeps the list for its next start.
   */
  private async followMembers(): Promise<void> {
    const st = this.state;
    const store = this.store;
    if (!st || !store || this.closing || this.restarting) return;
    let endpoints: string[];
    try {
      const own = ownMember(st);
      endpoints = [...new Set([...own, ...clientEndpoints(await store.members())])];
    } catch {
      return; // the store away: nothing to learn now (liveness tells the cluster)
    }
    if (!endpoints.length || [...endpoints].sort().join() === [...st.endpoints].sort().join()) return;
    st.endpoints = endpoints;
    // A node with a member of its own reaches the store through it (and the member is restarted if it dies): the
    // new list is for its next start, and its API does not blink.
    if (st.member) return atomicWriteJson(path.join(this.dir, 'state.json'), st);
    this.logger.info('cluster members changed: reconnecting', { endpoints: endpoints.join(',') });
    this.restarting = true;
    try {
      await atomicWriteJson(path.join(this.dir, 'state.json'), st);
      await this.shutdown();
      this.starting = this.runUntilUp();
      await this.starting;
    } finally {
      this.restarting = false;
    }
  }

  /**
   * A node carries out the role the managers give it (`node promote|demote`
   * write its record; swarm's nodes follow theirs the same way), one change
   * at a time, and again after a restart until it is done.
   */
  private async followRole(): Promise<void> {
    const st = this.state;
    const store = this.store;
    if (!st || !store || this.closing || this.restarting) return;
    // The store away: the next look asks again (liveness says so to the cluster; this only notes it).
    const rec = await store.node(st.nodeId).catch((e: unknown) => void this.logger.debug('cluster role look', { error: errorMessage(e) }));
    if (!rec || rec.role === st.role) return;
    this.restarting = true;
    try {
      this.logger.info('cluster role changed by the managers', { from: st.role, to: rec.role });
      if (rec.role === 'manager') await this.becomeManager(st, store);
      else await this.becomeWorker(st, store);
    } catch (e) {
      this.logger.warn('cluster role change; trying again', { to: rec.role, error: errorMessage(e) });
    } finally {
      this.restarting = false;
    }
  }

  /**
   * Promoted: a manager signs this node a manager's certificate from a new
   * key (the old one serves until the new is in place) and gives it the CA's
   * key; its own etcd member joins the store's cluster; it starts again as
   * a manager.
   */
  private async becomeManager(st: LocalState, store: ClusterStore): Promise<void> {
    const snap = await store.snapshot();
    const managers = snap.nodes.filter((n) => n.role === 'manager' && n.ready && n.id !== st.nodeId && /^\d+\.\d+\.\d+\.\d+:\d+$/.test(n.addr));
    if (!managers.length) throw unavailable('no manager is up to sign this node\'s certificate');
    const next = path.join(this.tlsDir, 'next');
    const csr = await makeKeyAndRequest(next);
    let promotion: Promotion | undefined;
    for (const m of managers) {
      promotion = await requestPromotion(m.addr, readCredentials(this.tlsDir), csr).catch((e: unknown) => void this.logger.warn('promotion request', { manager: m.id, error: errorMessage(e) }));
      if (promotion) break;
    }
    if (!promotion) throw unavailable('no manager answered the promotion');
    const f = tlsFiles(this.tlsDir);
    fs.writeFileSync(f.caKey, promotion.caKey, { mode: 0o600 });
    fs.writeFileSync(f.ca, promotion.ca);
    fs.writeFileSync(f.cert, promotion.cert);
    fs.renameSync(tlsFiles(next).key, f.key);
    fs.rmSync(next, { recursive: true, force: true });
    let learner: string | undefined;
    let added: Awaited<ReturnType<ClusterService['addOwnMember']>>;
    try {
      added = await this.addOwnMember(store, st.nodeId, st.addr!, (id) => (learner = id));
    } catch (e) {
      // A learner that never caught up goes again (it counts for no quorum), and so does its member: the next look starts afresh.
      if (learner) await store.removeMember(learner).catch((err) => this.logger.warn('removal of the learner of a failed promotion', { error: errorMessage(err) }));
      await this.member?.stop();
      this.member = undefined;
      fs.rmSync(path.join(this.dir, 'etcd'), { recursive: true, force: true });
      throw e;
    }
    await this.restartAs({ ...st, role: 'manager', member: added.member, endpoints: [`${st.addr}:${added.member.clientPort}`, ...clientEndpoints(added.members)] });
  }

  /**
   * Demoted: it signs itself a worker's certificate while it still holds
   * the CA's key, takes its etcd member out of the store's cluster, drops
   * the member's data and the CA's key, and starts again as a worker
   * reaching the store through the managers left.
   */
  private async becomeWorker(st: LocalState, store: ClusterStore): Promise<void> {
    const others = clientEndpoints((await store.members()).filter((m) => m.name !== st.nodeId));
    if (!others.length) throw unavailable('this node holds the store\'s only member: it stays a manager until another manager is up');
    await this.manager?.stop();
    // Its member's data goes only once the others have let it go; else it runs on as a manager, and the next look tries again.
    if (!(await this.leaveStore())) {
      this.manager = new Manager(store, st.nodeId, this.logger);
      this.manager.start();
      throw unavailable('the store did not let this node\'s member go');
    }
    await this.shutdown();
    await this.restartAs(await this.dropManagerParts(st, others));
  }

  /**
   * What a manager has that a worker must not, gone: a worker's certificate
   * signed while the CA's key is here (a crash after that finds it gone and
   * signs nothing), then the CA's key and its member's data. The worker's state.
   */
  private async dropManagerParts(st: LocalState, endpoints: string[]): Promise<LocalState> {
    const f = tlsFiles(this.tlsDir);
    if (fs.existsSync(f.caKey)) {
      const next = path.join(this.tlsDir, 'next');
      const cert = await signRequest(this.tlsDir, await makeKeyAndRequest(next), { nodeId: st.nodeId, clusterId: st.clusterId, role: 'worker', ip: st.addr! });
      fs.writeFileSync(f.cert, cert);
      fs.renameSync(tlsFiles(next).key, f.key);
      fs.rmSync(next, { recursive: true, force: true });
    }
    // A rotation's new key too: a worker holds no key of the CA.
    for (const key of [f.caKey, f.nextCaKey, f.nextCa, f.nextCross]) fs.rmSync(key, { force: true });
    fs.rmSync(path.join(this.dir, 'etcd'), { recursive: true, force: true });
    const { member: _m, ...rest } = st;
    return { ...rest, role: 'worker', endpoints };
  }

  /**
   * A manager about to start its member asks the other members whether the
   * store still counts it: a crash in the middle of its demotion, after its
   * member was let go, leaves it one the store has removed (etcd would refuse
   * it for good). Then the demotion is finished and it starts as a worker.
   * Others that do not answer (the whole cluster starting) tell nothing: it
   * starts as it was.
   */
  private async afterRemoval(st: LocalState): Promise<LocalState> {
    const own = ownMember(st);
    const others = st.endpoints.filter((e) => !own.includes(e));
    if (!others.length) return st;
    const probe = new ClusterStore(others, this.credentials(st));
    let members: EtcdMemberInfo[];
    try {
      members = await probe.members();
    } catch (e) {
      this.logger.debug('the other members, asked whether they count this one', { error: errorMessage(e) });
      return st;
    } finally {
      probe.close();
    }
    if (!members.length || members.some((m) => m.name === st.nodeId)) return st;
    this.logger.warn('the store no longer counts this node\'s etcd member (a demotion was cut short): it goes on as a worker');
    const next = await this.dropManagerParts(st, clientEndpoints(members));
    await atomicWriteJson(path.join(this.dir, 'state.json'), next);
    return next;
  }

  /** This node's part, started again with a new local state (saved first, so a crash resumes from it). */
  private async restartAs(next: LocalState): Promise<void> {
    await atomicWriteJson(path.join(this.dir, 'state.json'), next);
    await this.shutdown();
    this.state = next;
    this.starting = this.runUntilUp();
    await this.starting;
  }

  /** A manager's answer to a node the managers made a manager: a manager's certificate for its new key, the CA and its key. */
  private async grantPromotion(nodeId: string, csr: string): Promise<Promotion> {
    const store = this.managerStore();
    const rec = await store.node(nodeId);
    if (!rec) throw invalidArgument(`node ${nodeId} is not in the cluster`);
    if (rec.role !== 'manager') throw invalidArgument(`node ${nodeId} was not made a manager`);
    const ip = rec.addr.replace(/:\d+$/, '');
    const f = tlsFiles(this.tlsDir);
    const cert = await this.ca.sign((await store.info())?.info.ca, csr, { nodeId, clusterId: this.state!.clusterId, role: 'manager', ip });
    return { cert, ca: fs.readFileSync(f.ca, 'utf8'), caKey: fs.readFileSync(f.caKey, 'utf8') };
  }

  /** A manager's answer to a node's renewal: a certificate for its new key, with the role and address its record has. */
  private async grantRenewal(nodeId: string, csr: string): Promise<Renewal> {
    const store = this.managerStore();
    const [rec, got] = await Promise.all([store.node(nodeId), store.info()]);
    if (!rec) throw invalidArgument(`node ${nodeId} is not in the cluster`);
    const cert = await this.ca.sign(got?.info.ca, csr, { nodeId, clusterId: this.state!.clusterId, role: rec.role, ip: rec.addr.replace(/:\d+$/, '') });
    return { cert };
  }

  /**
   * Every few seconds, the cluster CA's plan for this node (renewal,
   * rotation); a new certificate or trust restarts the node's cluster part
   * (its TLS clients and servers) but not its etcd member, which reads its
   * certificate at each handshake.
   */
  private async followCa(): Promise<void> {
    const st = this.state;
    const store = this.store;
    if (!st?.tls || !store || this.closing || this.restarting || this.caBusy) return;
    this.caBusy = true;
    try {
      const [manager, alive] = [this.manager, this.alive];
      const { reload, soon } = await this.ca.follow({
        store, nodeId: st.nodeId, role: st.role, clusterId: st.clusterId, ip: st.addr ?? '127.0.0.1', member: this.member,
        leader: async () => !!manager?.leading, creds: () => readCredentials(this.tlsDir), poke: () => alive?.poke(),
      });
      if (soon) setTimeout(() => void this.followCa(), CA_SOON_MS).unref();
      if (!reload || this.closing || this.restarting) return;
      this.restarting = true;
      try {
        await this.shutdown(false, { keepMember: true, keepStore: true });
        this.starting = this.runUntilUp();
        await this.starting;
      } finally {
        this.restarting = false;
      }
    } catch (e) {
      this.logger.debug('cluster CA look', { error: errorMessage(e) });
    } finally {
      this.caBusy = false;
    }
  }

  /**
   * A manager leaving (or demoted) takes its member out of the store's
   * cluster first, while the others can still agree on it: the lead handed
   * over if its member has it, the removal asked of another member and
   * seen done there before this member stops (a member stopped before the
   * others applied its removal would leave two members' quorum waiting).
   * Whether it is out (or was never in).
   */
  private async leaveStore(): Promise<boolean> {
    const st = this.state;
    if (!st?.member || !this.store) return true;
    let probe: ClusterStore | undefined;
    try {
      const members = await this.store.members();
      const mine = members.find((m) => m.name === st.nodeId);
      const others = clientEndpoints(members.filter((m) => m !== mine));
      if (!mine || !others.length) return true;
      await this.store.handOverLead(mine.id);
      probe = new ClusterStore(others, this.credentials(st));
      await probe.removeMember(mine.id);
      const until = Date.now() + 20_000;
      while ((await probe.members()).some((m) => m.id === mine.id)) {
        if (Date.now() > until) throw unavailable('the store\'s other members did not apply this member\'s removal within 20 s');
        await new Promise((r) => setTimeout(r, 200));
      }
      return true;
    } catch (e) {
      this.logger.warn('removal of this manager\'s etcd member', { error: errorMessage(e) });
      return false;
    } finally {
      probe?.close();
    }
  }


  /** Stops this node's loops; `leaving` also ends its liveness at once (a daemon restart lets it run out instead). */
  private async shutdown(leaving = false, o: { keepMember?: boolean; keepStore?: boolean } = {}): Promise<void> {
    clearInterval(this.membersTimer);
    clearInterval(this.roleTimer);
    await this.endpoint?.close();
    await this.manager?.stop().catch((e) => this.logger.warn('manager stop', { error: errorMessage(e) }));
    await this.agent?.stop().catch((e) => this.logger.warn('agent stop', { error: errorMessage(e) }));
    this.engine.useBlobSource(undefined);
    await this.blobs?.close();
    clearInterval(this.sampler);
    await this.alive?.stop(leaving).catch((e) => this.logger.warn('liveness stop', { error: errorMessage(e) }));
    if (!o.keepStore) {
      this.store?.close();
      this.store = undefined;
    }
    if (!o.keepMember) {
      await this.member?.stop();
      this.member = undefined;
    }
    this.manager = this.agent = this.blobs = this.alive = this.endpoint = undefined;
  }

  /** `swarm leave`: a manager only with force, as docker; its task containers go, and with a lone member its data. */
  async leave(force: boolean): Promise<void> {
    if (!this.state) throw new BerthError('unavailable', 'This node is not part of a swarm');
    if (this.state.role === 'manager' && !force) {
      throw new BerthError('unavailable', 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.');
    }
    await this.manager?.stop();
    await this.leaveStore();
    await this.shutdown(true);
    for (const c of this.engine.taskContainers()) await this.engine.remove(c.id).catch((e) => this.logger.warn('task container removal at leave', { id: c.id, error: errorMessage(e) }));
    for (const n of this.engine.localNetworks()) await this.engine.removeNetwork(n.id).catch((e) => this.logger.warn('cluster network removal at leave', { network: n.id, error: errorMessage(e) }));
    this.state = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Daemon shutdown: the loops and the member stop; containers keep running, as docker's. */
  async close(): Promise<void> {
    this.closing = true;
    // A start still waiting for an unreachable store is not waited for long: the daemon is stopping.
    await Promise.race([this.starting, new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.shutdown();
  }

  private managerStore(): ClusterStore {
    if (!this.state || this.state.role !== 'manager') throw notManager();
    if (!this.store) throw unavailable('this manager is still connecting to the cluster store: try again in a moment');
    return this.store;
  }

  async snapshot(): Promise<Snapshot> {
    return this.managerStore().snapshot();
  }

  /** GET /info's Swarm section. */
  async infoSection(): Promise<Record<string, unknown>> {
    if (!this.state) return { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null };
    const base = { NodeID: this.state.nodeId, NodeAddr: this.state.member?.host ?? this.state.addr ?? '', LocalNodeState: 'active', ControlAvailable: this.state.role === 'manager', Error: '' };
    if (!this.store) return { ...base, LocalNodeState: 'pending' };
    try {
      const snap = await this.store.snapshot();
      const managers = snap.nodes.filter((n) => n.role === 'manager');
      return {
        ...base, RemoteManagers: managers.map((m) => ({ NodeID: m.id, Addr: m.addr })), Nodes: snap.nodes.length, Managers: managers.length,
        ...(snap.info ? { Cluster: { ...toDockerSwarm(snap.info, snap.infoIndex ?? 0), JoinTokens: undefined } } : {}),
      };
    } catch (e) {
      return { ...base, LocalNodeState: 'error', Error: errorMessage(e) };
    }
  }

  async inspectSwarm(): Promise<ReturnType<typeof toDockerSwarm>> {
    const snap = await this.snapshot();
    if (!snap.info) throw notManager();
    return toDockerSwarm(snap.info, snap.infoIndex ?? 0);
  }

  /**
   * docker's swarm update: the labels (Berth's rebalance threshold among
   * them), the join tokens' rotation, and the CA (certificates' expiry, a
   * rotation); the rest of the spec is as Berth runs it, and a change of
   * it is refused rather than ignored.
   */
  async updateSwarm(index: number, given: { Labels?: Record<string, string>; CAConfig?: Parameters<ClusterCa['update']>[1]; Orchestration?: { TaskHistoryRetentionLimit?: number } } & Record<string, unknown>, o: { rotateWorker?: boolean; rotateManager?: boolean } = {}): Promise<void> {
    const store = this.managerStore();
    const snap = await store.snapshot();
    if (!snap.info) throw notManager();
    if (!Number.isInteger(index) || index <= 0) throw invalidArgument(`invalid version ${index}`);
    const shown = toDockerSwarm(snap.info, snap.infoIndex ?? 0).Spec as Record<string, unknown>;
    for (const key of Object.keys(given)) {
      if (key === 'Labels' || key === 'Name' || key === 'CAConfig' || key === 'Orchestration') continue;
      if (JSON.stringify(meaningful(given[key])) !== JSON.stringify(meaningful(shown[key]))) {
        throw invalidArgument(`swarm update: changing ${key} is not supported by Berth's cluster (only Labels, with ${REBALANCE_THRESHOLD_LABEL}, CAConfig, the task history limit and the join tokens' rotation)`);
      }
    }
    const history = given.Orchestration?.TaskHistoryRetentionLimit ?? snap.info.taskHistory;
    if (history !== undefined && !Number.isSafeInteger(history)) throw invalidArgument(`invalid task history limit ${JSON.stringify(history)}: a whole number (below 0 keeps every ended task)`);
    const labels = { ...(given.Labels ?? {}) };
    const threshold = labels[REBALANCE_THRESHOLD_LABEL];
    if (threshold !== undefined && !(/^\d*\.?\d+$/.test(threshold) && Number(threshold) <= 1)) {
      throw invalidArgument(`invalid ${REBALANCE_THRESHOLD_LABEL} ${JSON.stringify(threshold)}: a difference of real load between nodes, from 0 (never move) to 1`);
    }
    if (snap.infoIndex !== index) throw conflict('rpc error: code = Unknown desc = update out of sequence: the swarm was changed since the version given');
    const ca = await this.ca.update(snap.info, given.CAConfig ?? {}, this.state!.nodeId);
    const tokens = snap.info.joinTokens;
    // A new secret; the CA's digest stays (the CA does).
    const rotated = (t: string) => joinToken(tokenDigest(t) ?? caDigest(ca.root));
    await store.updateInfo({
      ...snap.info, labels, ca, ...(history === undefined ? {} : { taskHistory: history }), updatedAt: new Date().toISOString(),
      joinTokens: { worker: o.rotateWorker ? rotated(tokens.worker) : tokens.worker, manager: o.rotateManager ? rotated(tokens.manager) : tokens.manager },
    }, index);
    this.manager?.kick();
  }

  // ---- networks ----------------------------------------------------------------

  /** docker network create --driver overlay, on a manager. */
  async createNetwork(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const store = this.managerStore();
    const n = await planNetwork(req, await store.snapshot());
    await store.createNetwork(n);
    return { Id: n.id, Warning: '' };
  }

  /** The cluster's networks, as managers list them; undefined elsewhere (a worker lists only its own parts of them, as docker's). */
  async networkRecords(): Promise<NetworkRecord[] | undefined> {
    if (this.state?.role !== 'manager' || !this.store) return undefined;
    return (await this.store.networks()).map(asNetworkRecord);
  }

  /** A network no service uses any more goes; each node drops its part once no container is on it. */
  async removeNetwork(ref: string): Promise<void> {
    const store = this.managerStore();
    const snap = await store.snapshot();
    const n = findNetwork(snap, ref);
    const users = networkUsers(snap, n.id);
    if (users.length) throw new BerthError('conflict', `rpc error: code = FailedPrecondition desc = network ${n.name} is in use by service ${users.join(', ')}`);
    await store.removeNetwork(n);
  }

  // ---- secrets and configs -----------------------------------------------------

  async createObject(kind: ObjectKind, spec: ObjectSpec): Promise<{ ID: string }> {
    const store = this.managerStore();
    const o = planObject(kind, spec);
    await store.createObject(kind, o);
    return { ID: o.id };
  }

  async listObjects(kind: ObjectKind, filters: Record<string, string[]> = {}) {
    return filterObjects(await this.managerStore().objects(kind), filters).map((o) => toDockerObject(kind, o));
  }

  async inspectObject(kind: ObjectKind, ref: string) {
    return toDockerObject(kind, findObject(await this.managerStore().objects(kind), kind, ref));
  }

  /** Only its labels change (swarm's rule: tasks hold the data they were given). */
  async updateObject(kind: ObjectKind, ref: string, index: number, spec: ObjectSpec): Promise<void> {
    const store = this.managerStore();
    const o = findObject(await store.objects(kind), kind, ref);
    if ((spec.Name !== undefined && spec.Name !== o.name) || (spec.Data !== undefined && spec.Data !== (kind === 'config' ? o.data : ''))) {
      throw invalidArgument('rpc error: code = InvalidArgument desc = only updates to Labels are allowed');
    }
    await store.updateObject(kind, { ...o, labels: spec.Labels ?? {}, updatedAt: new Date().toISOString() }, index);
  }

  async removeObject(kind: ObjectKind, ref: string): Promise<void> {
    const store = this.managerStore();
    const snap = await store.snapshot();
    const o = findObject(objectsOf(snap, kind), kind, ref);
    const users = objectUsers(snap, kind, o.id);
    if (users.length) throw invalidArgument(`rpc error: code = InvalidArgument desc = ${kind} '${o.name}' is in use by the following service${users.length > 1 ? 's' : ''}: ${users.join(', ')}`);
    await store.removeObject(kind, o);
  }

  // ---- services ----------------------------------------------------------------

  async createService(given: DockerServiceSpec, auth?: RegistryCredentials): Promise<{ ID: string; Warnings: string[] }> {
    const store = this.managerStore();
    const spec = fromDockerSpec(given, await store.snapshot());
    const now = new Date().toISOString();
    const id = swarmId();
    await store.createService({ id, version: 1, spec, given, createdAt: now, updatedAt: now, ...(auth ? { registryAuth: auth } : {}) });
    this.manager?.kick();
    return { ID: id, Warnings: [] };
  }

  private findService(snap: Snapshot, ref: string): ServiceRecord {
    const s = snap.services.find((x) => x.id === ref) ?? snap.services.find((x) => x.spec.name === ref) ?? uniquePrefix(snap.services, ref);
    if (!s) throw notFound(`service ${ref} not found`);
    return s;
  }

  async listServices(o: { status?: boolean; filters?: Record<string, string[]> } = {}) {
    const snap = await this.snapshot();
    let list = snap.services;
    const f = o.filters ?? {};
    for (const k of Object.keys(f)) if (!['id', 'name', 'label', 'mode'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    if (f.id) list = list.filter((s) => f.id.some((x) => s.id.startsWith(x)));
    if (f.name) list = list.filter((s) => f.name.some((x) => s.spec.name.includes(x)));
    if (f.mode) list = list.filter((s) => f.mode.includes('global' in s.spec.mode ? 'global' : 'replicated'));
    if (f.label) list = list.filter((s) => f.label.every((l) => labelMatches(s.spec.labels, l)));
    return list.map((s) => {
      if (!o.status) return toDockerService(s);
      const tasks = snap.tasks.filter((t) => t.serviceId === s.id && t.desired === 'running');
      const running = tasks.filter((t) => taskState(t) === 'running').length;
      const desired = 'global' in s.spec.mode ? tasks.length : s.spec.mode.replicated.replicas;
      return toDockerService(s, running, desired);
    });
  }

  async inspectService(ref: string) {
    return toDockerService(this.findService(await this.snapshot(), ref));
  }

  /**
   * An update names the version it read (docker's `version` query): a
   * service changed since is refused. `rollback` (docker's
   * `rollback=previous`) swaps the spec with the previous one instead, as
   * swarm does, and rolls it out with the rollback settings.
   */
  async updateService(ref: string, index: number, given: DockerServiceSpec, o: { rollback?: boolean; auth?: RegistryCredentials } = {}): Promise<{ Warnings: string[] }> {
    const store = this.managerStore();
    const snap = await store.snapshot();
    const cur = this.findService(snap, ref);
    if (!Number.isInteger(index) || index <= 0) throw invalidArgument(`invalid version ${index}`);
    // New credentials replace the kept ones; none given keeps them (swarm's way).
    const { rollout: _r, rollingBack: _b, ...rest } = o.auth ? { ...cur, registryAuth: o.auth } : cur;
    const updatedAt = new Date().toISOString();
    if (o.rollback) {
      if (!cur.previous) throw invalidArgument(`rpc error: code = FailedPrecondition desc = service ${cur.id} does not have a previous spec`);
      await store.updateService({
        ...rest, spec: cur.previous.spec, version: cur.previous.version, given: cur.previousGiven,
        previous: { spec: cur.spec, version: cur.version }, previousGiven: cur.given, rollingBack: 'manually requested rollback', updatedAt,
      }, index);
    } else {
      const spec = fromDockerSpec(given, snap);
      if (spec.name !== cur.spec.name) throw invalidArgument('rpc error: code = Unimplemented desc = renaming services is not supported');
      // Only a change of what tasks are made from (swarm's TaskTemplate, --force included) makes new tasks; scaling does not.
      const template = (x: ServiceSpec, g: unknown) => JSON.stringify([x.container, x.reservations, x.placement, x.restart, (g as DockerServiceSpec | undefined)?.TaskTemplate?.ForceUpdate ?? 0]);
      const next = Math.max(cur.version, cur.lastVersion ?? 0) + 1;
      const version = template(spec, given) === template(cur.spec, cur.given) ? cur.version : next;
      await store.updateService({ ...rest, version, lastVersion: Math.max(version, cur.lastVersion ?? 0), spec, given, previous: { spec: cur.spec, version: cur.version }, previousGiven: cur.given, updatedAt }, index);
    }
    this.manager?.kick();
    return { Warnings: [] };
  }

  async removeService(ref: string): Promise<void> {
    const store = this.managerStore();
    await store.removeService(this.findService(await store.snapshot(), ref));
    this.manager?.kick();
  }

  /**
   * docker's service (or task) logs: the tasks that ran a container, each
   * read from its node's endpoint. Resolved before anything streams (an
   * unknown service is a 404); the lines come from the function returned.
   */
  async logs(kind: 'service' | 'task', ref: string, o: ServiceLogOptions): Promise<(signal: AbortSignal) => AsyncGenerator<{ stream: number; line: Buffer }>> {
    const snap = await this.snapshot();
    const st = this.state!;
    let tasks: Snapshot['tasks'];
    if (kind === 'service') {
      const s = this.findService(snap, ref);
      tasks = snap.tasks.filter((t) => t.serviceId === s.id);
    } else {
      tasks = snap.tasks.filter((t) => t.id === ref || t.id.startsWith(ref)).slice(0, 1);
      if (!tasks.length) throw notFound(`task ${ref} not found`);
    }
    if (!st.tls) throw unavailable('service logs need a cluster made with its CA (this one was made before mutual TLS): leave and make it anew');
    const nodes = new Map(snap.nodes.map((n) => [n.id, n]));
    const sources = tasks.flatMap((t) => {
      const node = t.nodeId ? nodes.get(t.nodeId) : undefined;
      // A task that never had a container has no log; a node without an endpoint address (made before TLS) is not reached.
      if (!node || !t.status?.containerId || !/:\d+$/.test(node.addr)) return [];
      return [{ taskId: t.id, addr: node.addr, details: `com.docker.swarm.node.id=${node.id},com.docker.swarm.service.id=${t.serviceId},com.docker.swarm.task.id=${t.id}` }];
    });
    const creds = readCredentials(this.tlsDir);
    return (signal) => serviceLogs(sources, creds, o, this.logger, signal);
  }

  /**
   * `image prefetch --nodes all|LABEL=VALUE IMAGE`: the nodes (ready, and
   * with the label where one is given) pull the image ahead of a deploy;
   * the request and their answers live 30 minutes in the store.
   */
  async prefetch(image: string, selector: string): Promise<{ ID: string; Nodes: string[] }> {
    const store = this.managerStore();
    if (!image) throw invalidArgument('prefetch needs an image reference');
    const m = /^([^=]+)=(.*)$/.exec(selector);
    if (selector !== 'all' && !m) throw invalidArgument(`invalid --nodes ${JSON.stringify(selector)}: all, or a node label as KEY=VALUE`);
    const nodes = (await store.snapshot()).nodes.filter((n) => n.ready && (!m || n.labels[m[1]] === m[2])).map((n) => n.id);
    if (!nodes.length) throw invalidArgument(`no ready node matches --nodes ${selector}`);
    const p = await store.putPrefetch({ id: swarmId(), image, nodes, createdAt: new Date().toISOString() }, 1800);
    return { ID: p.id, Nodes: p.nodes };
  }

  /** Where a prefetch stands: each node asked, with its answer once it has one. */
  async prefetchStatus(id: string) {
    const snap = await this.snapshot();
    const p = snap.prefetches.find((x) => x.id === id);
    if (!p) throw notFound(`prefetch ${id} not found (they are kept 30 minutes)`);
    const names = new Map(snap.nodes.map((n) => [n.id, n.hostname]));
    return {
      ID: p.id, Image: p.image, CreatedAt: p.createdAt,
      Nodes: p.nodes.map((n) => ({ ID: n, Hostname: names.get(n) ?? n, ...(p.reports[n] ? { Done: true, Ok: p.reports[n].ok, Message: p.reports[n].message, Seconds: p.reports[n].seconds } : { Done: false }) })),
    };
  }

  // ---- tasks and nodes -----------------------------------------------------------

  async listTasks(filters: Record<string, string[]> = {}) {
    const snap = await this.snapshot();
    for (const k of Object.keys(filters)) if (!['id', 'name', 'service', 'node', 'desired-state', 'label', '_up-to-date'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const versions = new Map(snap.services.map((s) => [s.id, s.version]));
    const networks = new Map(snap.networks.map((n) => [n.id, n]));
    const serviceIds = filters.service?.map((r) => this.findService(snap, r).id);
    const templates = new Map(snap.services.filter((s) => !serviceIds || serviceIds.includes(s.id)).map((s) => [s.id, taskTemplateOf(s)]));
    const nodeIds = filters.node?.map((r) => (r === 'self' ? this.state!.nodeId : (snap.nodes.find((n) => n.id === r || n.hostname === r)?.id ?? r)));
    return snap.tasks
      .filter((t) => !serviceIds || serviceIds.includes(t.serviceId))
      .filter((t) => !nodeIds || (t.nodeId !== undefined && nodeIds.includes(t.nodeId)))
      .filter((t) => !filters.id || filters.id.some((x) => t.id.startsWith(x)))
      .filter((t) => !filters['desired-state'] || filters['desired-state'].includes(t.desired === 'remove' ? 'shutdown' : t.desired))
      // The docker CLI's progress asks for the tasks made from the service's current spec.
      .filter((t) => !filters['_up-to-date'] || t.specVersion === versions.get(t.serviceId))
      .map((t) => toDockerTask(t, templates.get(t.serviceId), snap.revision, networks));
  }

  /** docker's node filters: id, name (a part of the hostname), role, membership, node.label. */
  async listNodes(filters: Record<string, string[]> = {}) {
    for (const k of Object.keys(filters)) if (!['id', 'name', 'role', 'membership', 'node.label', 'label'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const snap = await this.snapshot();
    return snap.nodes
      .filter((n) => !filters.id || filters.id.some((x) => n.id.startsWith(x)))
      .filter((n) => !filters.name || filters.name.some((x) => n.hostname.includes(x)))
      .filter((n) => !filters.role || filters.role.includes(n.role))
      .filter((n) => !filters.membership || filters.membership.includes('accepted'))
      .filter((n) => !filters['node.label'] || filters['node.label'].every((l) => labelMatches(n.labels, l)))
      .map((n) => toDockerNode(n, snap.leader, this.engineVersion, snap.info?.ca));
  }

  async inspectNode(ref: string) {
    const snap = await this.snapshot();
    const n = this.findNode(snap, ref);
    return toDockerNode(n, snap.leader, this.engineVersion, snap.info?.ca);
  }

  private findNode(snap: Snapshot, ref: string) {
    const id = ref === 'self' ? this.state!.nodeId : ref;
    const n = snap.nodes.find((x) => x.id === id) ?? snap.nodes.find((x) => x.hostname === id) ?? uniquePrefix(snap.nodes, id);
    if (!n) throw notFound(`node ${ref} not found`);
    return n;
  }

  /** docker's node update: labels, role, availability (the whole spec, as docker sends it). */
  async updateNode(ref: string, spec: { Labels?: Record<string, string>; Role?: string; Availability?: string }): Promise<void> {
    const store = this.managerStore();
    const snap = await store.snapshot();
    const n = this.findNode(snap, ref);
    const availability = (spec.Availability ?? n.availability) as Availability;
    if (!['active', 'pause', 'drain'].includes(availability)) throw invalidArgument(`invalid availability ${JSON.stringify(spec.Availability)}: active, pause or drain`);
    const role = (spec.Role ?? n.role) as NodeRole;
    if (role !== 'manager' && role !== 'worker') throw invalidArgument(`invalid role ${JSON.stringify(spec.Role)}: manager or worker`);
    if (role !== n.role && !n.ready) throw new BerthError('conflict', `rpc error: code = FailedPrecondition desc = node ${n.id} is down: its role changes when it can carry the change out`);
    if (role === 'worker' && n.role === 'manager') {
      // As swarm: never the last manager, nor one whose going leaves the store's members without a quorum.
      const managers = snap.nodes.filter((x) => x.role === 'manager');
      if (managers.length === 1) throw new BerthError('conflict', 'rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm');
      const upAfter = managers.filter((x) => x.ready && x.id !== n.id).length;
      const after = managers.length - 1;
      if (upAfter < Math.floor(after / 2) + 1) throw new BerthError('conflict', `rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum (${upAfter} of ${after} managers left would be up)`);
    }
    const { ready: _r, usage: _u, ...rec } = n;
    await store.putNode({ ...rec, labels: spec.Labels ?? n.labels, availability, role, updatedAt: new Date().toISOString() });
    this.manager?.kick();
  }

  /**
   * `node rm`: a node's record goes (its tasks are then written off and
   * replaced). As docker: a node still up needs --force, and a manager
   * cannot be removed while it is one.
   */
  async removeNode(ref: string, force: boolean): Promise<void> {
    const store = this.managerStore();
    const n = this.findNode(await store.snapshot(), ref);
    if (n.role === 'manager') throw new BerthError('conflict', `rpc error: code = FailedPrecondition desc = node ${n.id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    if (n.ready && !force) throw new BerthError('conflict', `rpc error: code = FailedPrecondition desc = node ${n.id} is not down and can't be removed`);
    await store.removeNode(n.id);
    this.manager?.kick();
  }

}

/** The store's client addresses (host:port), of the members that have started. */
function clientEndpoints(members: EtcdMemberInfo[]): string[] {
  return members.flatMap((m) => m.clientUrls.map((u) => u.replace(/^https?:\/\//, '')));
}

/**
 * The address this node is reached at: the one given (docker's
 * --advertise-addr, an IPv4 address), else the one this host would send
 * from to the manager it joins.
 */
async function advertiseHost(given: string | undefined, remote: string): Promise<string> {
  if (given) {
    const host = given.replace(/:\d+$/, '');
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(host)) throw invalidArgument(`advertise address must be an IPv4 address (an interface name is not supported): ${given}`);
    return host;
  }
  const r = await run('ip', ['-4', '-j', 'route', 'get', remote.replace(/:\d+$/, '')]);
  const src = (JSON.parse(r.stdout) as { prefsrc?: string }[])[0]?.prefsrc;
  if (!src) throw invalidArgument(`no route to ${remote}: give --advertise-addr`);
  return src;
}

/** A spec part with what docker's CLI may add or leave out as empty (nulls, zeros, empty objects) dropped, keys in order. */
function meaningful(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(meaningful) : undefined;
  if (v && typeof v === 'object') {
    const kept = Object.entries(v).map(([k, x]) => [k, meaningful(x)] as const).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return kept.length ? Object.fromEntries(kept) : undefined;
  }
  return v === null || v === 0 || v === false || v === '' ? undefined : v;
}

function uniquePrefix<T extends { id: string }>(xs: T[], ref: string): T | undefined {
  const hits = xs.filter((x) => x.id.startsWith(ref));
  return hits.length === 1 ? hits[0] : undefined;
}

/** A token compared in constant time (a join endpoint is open to anyone who reaches it). */
function sameSecret(given: unknown, token: string): boolean {
  const a = Buffer.from(typeof given === 'string' ? given : '');
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Where managers reach a node, and nodes join at a manager: its cluster endpoint (a manager's store, in a cluster made before TLS). */
function endpointAddr(st: LocalState | undefined): string | undefined {
  if (st?.tls && st.port && st.addr) return `${st.addr}:${st.port}`;
  return st?.member ? ownMember(st)[0] : undefined;
}

/** The client address of this node's own etcd member, where it runs one. */
function ownMember(st: LocalState): string[] {
  return st.member ? [`${st.member.host}:${st.member.clientPort}`] : [];
}

/** swarm's port where it is free on the address, else one the kernel picks (several daemons on one host). */
async function clusterPort(host: string): Promise<number> {
  return (await portFree(host, SWARM_PORT)) ? SWARM_PORT : freePort(host);
}
