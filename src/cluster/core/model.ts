/**
 * The cluster's records, as the planner and the reconciler see them (the
 * store keeps them in etcd, one key per record). Vocabulary and task
 * states follow swarm's, so the Engine API's swarm endpoints show them as
 * docker shows its own.
 */

export type NodeRole = 'manager' | 'worker';
/** active: takes new tasks; pause: keeps its tasks, takes none; drain: its tasks move away. */
export type Availability = 'active' | 'pause' | 'drain';

/** CPU in nano-CPUs (1e9 = one core) and memory in bytes, as docker's service flags give them. */
export interface Resources {
  nanoCpus: number;
  memoryBytes: number;
}

/** Real use, smoothed: CPU as a share of the node's allocatable CPUs (0-1), memory in bytes. */
export interface Usage {
  cpu: number;
  memoryBytes: number;
}

export interface ClusterNode {
  id: string;
  hostname: string;
  role: NodeRole;
  availability: Availability;
  labels: Record<string, string>;
  /** Its lease is alive: the agent is there and answering. */
  ready: boolean;
  /** What tasks may reserve on it. */
  allocatable: Resources;
  /** Its real load, smoothed: CPU as a share of its allocatable CPUs (0-1), memory in bytes; and each task's part of it. */
  usage?: Usage & { tasks?: Record<string, Usage> };
}

/** How a service's replicas are placed: swarm's constraints, spread preferences and per-node cap. */
export interface Placement {
  constraints: string[];
  /** `spread=node.labels.zone`: replicas spread evenly over the label's values, in order. */
  preferences: string[];
  /** At most this many replicas of the service on one node (0: no cap). */
  maxReplicasPerNode: number;
}

export type RestartCondition = 'none' | 'on-failure' | 'any';

export interface RestartPolicy {
  condition: RestartCondition;
  delayMs: number;
  /** 0: no bound. */
  maxAttempts: number;
  /** The window in which attempts count (0: the task's whole life). */
  windowMs: number;
}

/** What each task's container is made from (the agent turns it into a container create). */
export interface ContainerTemplate {
  image: string;
  /** Replaces the image's entrypoint (docker's ContainerSpec.Command). */
  command?: string[];
  /** The image's command replaced (ContainerSpec.Args). */
  args?: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  labels?: Record<string, string>;
  /** Seconds the container has to stop before it is killed. */
  stopGraceSeconds?: number;
  limits?: Resources;
  /** docker's HealthConfig (durations in ns): the task runs once healthy, and fails when unhealthy. */
  healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number; StartInterval?: number };
  /** Cluster networks by id, the first the container's primary, each with the names it answers to there besides the service's. */
  networks?: { id: string; aliases?: string[] }[];
  /** docker's Mount objects (bind, volume, tmpfs), made on the task's node as `docker run --mount` makes them. */
  mounts?: Record<string, unknown>[];
  /** Ports published on the task's node (swarm's host mode); no published port: one the node picks. */
  ports?: HostPort[];
  /** Secrets and configs as files in the container, read-only. */
  files?: FileGrant[];
}

/** A secret or config given to a service's tasks: which one, and the file it becomes. */
export interface FileGrant {
  kind: 'secret' | 'config';
  id: string;
  /** The absolute path in the container (a secret's relative name is under /run/secrets). */
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

/** A secret or config: named data kept by the cluster (a secret's is never shown back). */
export interface ClusterObject {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** The content, base64. */
  data: string;
  createdAt: string;
  updatedAt: string;
}

export interface HostPort {
  target: number;
  published?: number;
  protocol: 'tcp' | 'udp';
}

/** A cluster network (swarm's overlay): one subnet across nodes, carried between them over VXLAN. */
export interface ClusterNetwork {
  id: string;
  name: string;
  driver: 'overlay';
  subnet: string;
  gateway: string;
  /** Its VXLAN network identifier. */
  vni: number;
  labels: Record<string, string>;
  /** Containers outside services may join it (docker's --attachable; refused for now). */
  attachable: boolean;
  /** No way out of it to the outside (docker's --internal). */
  internal: boolean;
  options: Record<string, string>;
  createdAt: string;
}

export type FailureAction = 'pause' | 'continue' | 'rollback';

/**
 * How a new spec rolls out (swarm's UpdateConfig): `parallelism` tasks at a
 * time (0: all), each new one healthy, or running for `monitorMs` without a
 * health check, before the next starts, `delayMs` after one is done; a
 * task of the roll-out that ends within its monitor is a failure, and past
 * `maxFailureRatio` of the tasks to replace, `failureAction` is taken.
 * stop-first stops the old task before its replacement starts; start-first
 * stops it once the replacement runs.
 */
export interface UpdatePolicy {
  parallelism: number;
  delayMs: number;
  failureAction: FailureAction;
  monitorMs: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

/** swarm's defaults, for updates and for rollbacks alike. */
export const UPDATE_DEFAULTS: UpdatePolicy = { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' };

/** swarm's UpdateStatus states. */
export type RolloutState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

/** Where the roll-out of a service's version stands (the leader's record; docker's UpdateStatus). */
export interface Rollout {
  version: number;
  state: RolloutState;
  startedAt: number;
  completedAt?: number;
  message: string;
  /** Tasks to replace when it began: what the failure ratio is of. */
  total: number;
  /** Tasks of the roll-out that failed within their monitor (counted once each). */
  failures: string[];
}

export interface ServiceSpec {
  name: string;
  container: ContainerTemplate;
  mode: { replicated: { replicas: number } } | { global: Record<string, never> };
  reservations: Resources;
  placement: Placement;
  restart: RestartPolicy;
  update: UpdatePolicy;
  /** How a rollback rolls out (failureAction pause or continue: a rollback is never rolled back). */
  rollback: UpdatePolicy;
  labels: Record<string, string>;
}

export interface Service {
  id: string;
  /**
   * Names the spec tasks are made from: a task whose version is not the
   * service's is stale. An identity, not an order: a rollback brings the
   * previous version's number back, so tasks still on it stay.
   */
  version: number;
  spec: ServiceSpec;
  /** What a rollback returns to (none: nothing to roll back to). */
  previous?: { version: number; spec: ServiceSpec };
  /** The current version was made by a rollback, and why ("manually requested rollback"). */
  rollingBack?: string;
  rollout?: Rollout;
}

/** swarm's task states, in the order a task moves through them (never back). */
export const TASK_STATES = ['new', 'pending', 'assigned', 'accepted', 'preparing', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** What the managers want of a task: the agent converges to it. */
export type DesiredState = 'running' | 'shutdown' | 'remove';

export interface Task {
  id: string;
  serviceId: string;
  /** A replicated service's replica number (1-based); a global service's tasks have none. */
  slot?: number;
  /** A global service's task is for one node; a replicated one's once placed. */
  nodeId?: string;
  specVersion: number;
  desired: DesiredState;
  state: TaskState;
  /** When the task was made and when its state last changed (ms since the epoch). */
  createdAt: number;
  updatedAt: number;
  /** Why it is where it is: "no suitable node (...)", an exit code, a node gone. */
  message?: string;
  exitCode?: number;
  /** Replacements made for this slot so far within the restart window (1 for the first task). */
  attempt: number;
  reservations: Resources;
  /** When its node reported it running (and healthy, with a health check). */
  startedAt?: number;
  /** A start-first replacement: the task it replaces, stopped once this one runs. */
  replaces?: string;
  /** Made by a rebalance: the busier node its slot moves from. */
  movedFrom?: string;
  /** Its address on each of its service's networks (network id → IPv4), given by the leader when it is made. */
  addresses?: Record<string, string>;
}

/** States in which a task holds its node's resources and may be running. */
export function isLive(state: TaskState): boolean {
  return state === 'assigned' || state === 'accepted' || state === 'preparing' || state === 'starting' || state === 'running';
}

/** States a task never leaves. */
export function isTerminal(state: TaskState): boolean {
  return state === 'complete' || state === 'shutdown' || state === 'failed' || state === 'rejected' || state === 'remove' || state === 'orphaned';
}

/** The spec a task of `version` is made from: the service's, or the previous one a rollback or roll-out still runs. */
export function specOf(s: Service, version: number): ServiceSpec {
  return s.version !== version && s.previous?.version === version ? s.previous.spec : s.spec;
}
