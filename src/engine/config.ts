import type { Logger } from '../base/log';
import type { HostFeatures } from '../host/features';
import type { MinFree } from './system/disk-guard';
import type { LogLimits } from './logs/logs';
import type { NetworkConfig } from './networks/networks';
import type { RegistrySettings } from './images/registries';

/** What the engine needs from the daemon's configuration. */
export interface EngineConfig {
  dataRoot: string;
  execRoot: string;
  /** Runtime name → binary path; the first is not necessarily the default. */
  runtimes: Record<string, string>;
  defaultRuntime: string;
  conmonPath: string;
  /** A static init binary (tini) mounted as /sbin/docker-init for --init. */
  initPath: string;
  /** cgroup folder under which every container's cgroup is made (e.g. /berth). */
  cgroupParent: string;
  defaultShmSize: number;
  log: LogLimits;
  /** Run every container with --init unless it says otherwise. */
  defaultInit: boolean;
  network: NetworkConfig;
  registries: RegistrySettings;
  logger: Logger;
  /** What this host offers, detected once at daemon start. */
  host: HostFeatures;
  /** The least free room in the data root under which create, run, pull and build are refused. */
  minFree: MinFree;
  /** /proc views: wanted (`--proc-view lxcfs`, the default) and the lxcfs binary, when installed. */
  procView: { wanted: boolean; lxcfsPath?: string };
  /** The health-probe agent's binary (`--health-probes agent`, the default); undefined: every probe is an exec session, as dockerd's. */
  probeAgent?: string;
}
