// A compose project as Berth runs it: the spec's fields, normalised to one shape each.

export type Condition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface Dependency {
  condition: Condition;
  /** false: a missing or failed dependency is a warning, not an error. */
  required: boolean;
  /** The dependent is restarted when this one is (compose v2's `restart: true`). */
  restart: boolean;
}

export interface PortMapping {
  target: number;
  /** A port or a range, '' for any. */
  published: string;
  host_ip: string;
  protocol: string;
  /** A cluster's publishing mode (long syntax): `host` on the task's node, `ingress` (swarm's default) on every node. */
  mode?: string;
}

export interface VolumeMount {
  type: 'bind' | 'volume' | 'tmpfs';
  /** A host path (bind), a volume's key in the file (volume), none for an anonymous volume. */
  source?: string;
  target: string;
  read_only: boolean;
  bind?: { propagation?: string; create_host_path?: boolean };
  volume?: { nocopy?: boolean };
  tmpfs?: { size?: number | string };
}

export interface NetworkAttachment {
  aliases: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  priority: number;
}

export interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

/** A secret or config a service asks for, and where it lands in its containers. */
export interface FileGrant {
  source: string;
  /** An absolute path in the container. */
  target: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

/** A top-level secret or config: its content from a file, a variable of this shell, or (configs) inline. */
export interface FileSource {
  name: string;
  /** The file gave the name (`name:`); else it is the key. */
  named?: boolean;
  file?: string;
  environment?: string;
  content?: string;
  external: boolean;
}

/** What `watch` does when files under a trigger's path change. */
export type WatchAction = 'sync' | 'rebuild' | 'restart' | 'sync+restart' | 'sync+exec';

/** One rule of a service's `develop.watch`. */
export interface WatchTrigger {
  action: WatchAction;
  /** An absolute host path, a folder or a file. */
  path: string;
  /** Where `path` lands in the containers (sync actions). */
  target?: string;
  ignore: string[];
  include: string[];
  initial_sync: boolean;
  exec?: { command: string[]; user?: string; privileged?: boolean; working_dir?: string; environment: Record<string, string | null> };
}

export interface Build {
  context: string;
  dockerfile?: string;
  args: Record<string, string | null>;
  target?: string;
  labels: Record<string, string>;
  cache_from: string[];
  /** More names for the built image, besides the service's `image:`. */
  tags?: string[];
  network?: string;
  shm_size?: string | number;
}

export interface Service {
  name: string;
  image?: string;
  build?: Build;
  command?: string[];
  entrypoint?: string[];
  /** null: the value comes from the shell's environment, or the variable is left out. */
  environment: Record<string, string | null>;
  env_file: string[];
  labels: Record<string, string>;
  depends_on: Record<string, Dependency>;
  links: string[];
  volumes_from: string[];
  network_mode?: string;
  networks: Record<string, NetworkAttachment>;
  ports: PortMapping[];
  expose: string[];
  volumes: VolumeMount[];
  secrets: FileGrant[];
  configs: FileGrant[];
  healthcheck?: Healthcheck;
  profiles: string[];
  scale?: number;
  restart?: string;
  extends?: { service: string; file?: string };
  develop?: { watch: WatchTrigger[] };
  /** Every other field of the spec, as the file wrote it. */
  [field: string]: unknown;
}

export interface NetworkDef {
  name: string;
  external: boolean;
  driver?: string;
  driver_opts: Record<string, string>;
  internal: boolean;
  enable_ipv6: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  ipam?: { driver?: string; config?: { subnet?: string; gateway?: string; ip_range?: string }[] };
}

export interface VolumeDef {
  name: string;
  external: boolean;
  driver?: string;
  driver_opts: Record<string, string>;
  labels: Record<string, string>;
}

export interface Project {
  name: string;
  workingDir: string;
  configFiles: string[];
  services: Record<string, Service>;
  /** Services whose profiles are not enabled. */
  disabled: Record<string, Service>;
  networks: Record<string, NetworkDef>;
  volumes: Record<string, VolumeDef>;
  secrets: Record<string, FileSource>;
  configs: Record<string, FileSource>;
}

/** A file of the project, parsed, interpolated, checked and normalised; its networks and volumes as written. */
export interface ComposeFile {
  file: string;
  name?: string;
  services: Record<string, Service>;
  networks: Record<string, Record<string, unknown>>;
  volumes: Record<string, Record<string, unknown>>;
  secrets: Record<string, FileSource>;
  configs: Record<string, FileSource>;
}
