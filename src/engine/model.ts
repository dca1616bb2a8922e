import type { ContainerCreateConfig } from './containers/merge';

/** A --mount as the Engine API describes it. */
export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** A block device's I/O limit (bytes or operations per second), by its path on the host. */
export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

/** The HostConfig of docker's create body (the part Berth understands). */
export interface HostConfig {
  Binds?: string[] | null;
  /** Berth (podman's `--health-on-failure`): none, kill, restart or stop when the container turns unhealthy. */
  HealthOnFailure?: string;
  NetworkMode?: string;
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[]> | null;
  PublishAllPorts?: boolean;
  /** Berth: rate limits in bits per second of traffic into and out of the container (0: none). */
  NetworkIngressRate?: number;
  NetworkEgressRate?: number;
  /** docker's --storage-opt: `size` limits the writable layer (a vdisk here). */
  StorageOpt?: Record<string, string> | null;
  /** Berth: the container's share of the shared link, bits per second (0 or absent: none; priority 0-7, higher first). */
  NetworkBandwidth?: { Guarantee?: number; Limit?: number; Priority?: number } | null;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
  AutoRemove?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string> | null;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: string;
  Init?: boolean | null;
  LogConfig?: { Type?: string; Config?: Record<string, string> };
  Mounts?: MountSpec[] | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  BlkioWeightDevice?: { Path: string; Weight: number }[] | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
  KernelMemory?: number;
  KernelMemoryTCP?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  OomKillDisable?: boolean | null;
  DeviceCgroupRules?: string[] | null;
  /** Legacy links, kept as `/target:/container/alias`. */
  Links?: string[] | null;
  OomScoreAdj?: number;
  [k: string]: unknown;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Only for a container with a health check, from its first start on. */
  Health?: Health;
}

/** `.State.Health` as docker's inspect shows it. */
export interface Health {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: ProbeResult[];
}

export interface ProbeResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** A mount as inspect shows it. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Berth: an anonymous volume, removed with `rm -v`. */
  anonymous?: boolean;
  noCopy?: boolean;
  tmpfsOptions?: string[];
}

/** A container's place on one network, as docker's inspect shows it. */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  /** Kept and shown as given (`container:alias`). */
  Links: string[] | null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
}

/** What is persisted for a container: docker's inspect shape plus Berth's own fields. */
export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Image: string;
  Config: ContainerCreateConfig;
  HostConfig: HostConfig;
  State: ContainerState;
  RestartCount: number;
  Mounts: MountPoint[];
  /** The networks it is on (by name), with the settings asked for; live values come from the network service. */
  NetworkSettings?: { Networks: Record<string, EndpointSettings> };
  /** Berth: runtime name (runc, crun). */
  runtime: string;
  /** Berth: log limits in force for this container. */
  logMaxSize: number;
  logMaxFile: number;
  /** Berth: set by `stop`/`kill` from the user, so restart policies leave it stopped. */
  stoppedByUser?: boolean;
  /** Berth: pid of the conmon monitoring the current run. */
  conmonPid?: number;
  /** Berth: the current run has lxcfs's /proc views (they are bound anew when lxcfs restarts). */
  procView?: boolean;
  /** Berth: the current run has the probe agent's folder (its health probes go through the agent). */
  probeAgent?: boolean;
}

export const STATUS_CREATED: ContainerState = {
  Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
  Pid: 0, ExitCode: 0, Error: '', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z',
};
