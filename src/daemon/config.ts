import * as fs from 'node:fs';
import * as path from 'node:path';
import { flagsOf } from '../base/argv';
import { invalidArgument } from '../base/errors';
import { parseRate } from '../base/rates';
import type { Level } from '../base/log';

/** The daemon's settings: flags over the config file (JSON, like docker's daemon.json) over defaults. */
export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  host: string;
  cgroupParent: string;
  defaultRuntime: string;
  runtimes: Record<string, string>;
  defaultShmSize: string;
  logOpts: { 'max-size': string; 'max-file': string };
  init: boolean;
  logLevel: Level;
  /** The default bridge network's Linux bridge (docker's --bridge, docker0 there). */
  bridge: string;
  /** docker's insecure-registries: plain HTTP allowed (loopback ones always are). */
  insecureRegistries: string[];
  /** Per-registry CA roots and client certificates, as docker's /etc/docker/certs.d. */
  certsDir: string;
  /** Below this much free space (or free inodes) in the data root, create, run, pull and build are refused: `5%` or a size (`2g`). */
  minFreeSpace: string;
  /** What containers see in /proc: `lxcfs` (their own limits, when lxcfs is installed) or `host`. */
  procView: string;
  /** How health probes run: `agent` (one small process per probing container forks each probe) or `exec` (an exec session each, as dockerd). */
  healthProbes: string;
  /** The device whose bandwidth containers share by --network-bandwidth ('' : the default route's). */
  bandwidthLink: string;
  /** Its capacity, as a rate (`1gbit`); '' : the speed the device reports. */
  bandwidthCapacity: string;
  /** This node's name in a cluster ('': the host's name). */
  nodeName: string;
}

export const DEFAULTS: DaemonConfig = {
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  host: 'unix:///run/berth/berth.sock',
  cgroupParent: '/berth',
  defaultRuntime: 'runc',
  runtimes: {},
  defaultShmSize: '64m',
  logOpts: { 'max-size': '10m', 'max-file': '3' },
  init: false,
  logLevel: 'info',
  bridge: 'berth0',
  insecureRegistries: [],
  certsDir: '/etc/berth/certs.d',
  minFreeSpace: '5%',
  procView: 'lxcfs',
  healthProbes: 'agent',
  bandwidthLink: '',
  bandwidthCapacity: '',
  nodeName: '',
};

const FLAGS: Record<string, keyof DaemonConfig> = {
  '--data-root': 'dataRoot',
  '-g': 'dataRoot',
  '--exec-root': 'execRoot',
  '-H': 'host',
  '--host': 'host',
  '--cgroup-parent': 'cgroupParent',
  '--default-runtime': 'defaultRuntime',
  '--default-shm-size': 'defaultShmSize',
  '--min-free-space': 'minFreeSpace',
  '--proc-view': 'procView',
  '--health-probes': 'healthProbes',
  '--bandwidth-link': 'bandwidthLink',
  '--bandwidth-capacity': 'bandwidthCapacity',
  '--node-name': 'nodeName',
  '--log-level': 'logLevel',
  '-l': 'logLevel',
  '--bridge': 'bridge',
  '-b': 'bridge',
  '--certs-dir': 'certsDir',
};

/** daemon.json keys Berth reads, by docker's names. */
const FILE_KEYS: Record<string, keyof DaemonConfig> = {
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  'cgroup-parent': 'cgroupParent',
  'default-runtime': 'defaultRuntime',
  'default-shm-size': 'defaultShmSize',
  'min-free-space': 'minFreeSpace',
  'proc-view': 'procView',
  'health-probes': 'healthProbes',
  'bandwidth-link': 'bandwidthLink',
  'bandwidth-capacity': 'bandwidthCapacity',
  'node-name': 'nodeName',
  'log-level': 'logLevel',
  'log-opts': 'logOpts',
  init: 'init',
  'insecure-registries': 'insecureRegistries',
  runtimes: 'runtimes',
  bridge: 'bridge',
  'certs-dir': 'certsDir',
};

export function parseDaemonArgs(argv: string[]): DaemonConfig {
  const flags: Partial<Record<keyof DaemonConfig, unknown>> = {};
  let configFile: string | undefined;
  const takesValue = (a: string) => a === '--config-file' || a === '--insecure-registry' || a === '--add-runtime' || a in FLAGS;
  for (const { flag: a, value: v } of flagsOf(argv, takesValue)) {
    if (a === '--config-file') configFile = v;
    else if (a === '--init') flags.init = v === undefined ? true : v !== 'false';
    else if (a === '--insecure-registry') flags.insecureRegistries = [...((flags.insecureRegistries as string[]) ?? []), v!];
    else if (a === '--add-runtime') {
      const [n, p] = v!.split('=');
      flags.runtimes = { ...(flags.runtimes as Record<string, string>), [n]: p };
    } else if (FLAGS[a]) flags[FLAGS[a]] = v;
    else throw invalidArgument(`unknown flag: ${a}`);
  }
  const file: Partial<Record<keyof DaemonConfig, unknown>> = {};
  if (configFile) {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw invalidArgument(`unable to configure the daemon with file ${configFile}: ${(e as Error).message}`);
    }
    for (const [k, val] of Object.entries(raw)) {
      if (!FILE_KEYS[k]) throw invalidArgument(`the following directives don't match any configuration option: ${k}`);
      file[FILE_KEYS[k]] = k === 'runtimes' ? Object.fromEntries(Object.entries(val as Record<string, { path: string }>).map(([n, r]) => [n, r.path])) : val;
    }
  }
  const cfg = { ...DEFAULTS, ...file, ...flags } as DaemonConfig;
  cfg.logOpts = { ...DEFAULTS.logOpts, ...(file.logOpts as object) };
  cfg.dataRoot = path.resolve(cfg.dataRoot);
  cfg.execRoot = path.resolve(cfg.execRoot);
  cfg.certsDir = path.resolve(cfg.certsDir);
  if (!cfg.host.startsWith('unix://')) throw invalidArgument(`only unix sockets are supported for -H, got ${cfg.host}`);
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(cfg.bridge)) throw invalidArgument(`invalid bridge name ${cfg.bridge}: at most 15 letters, digits, '.', '_' or '-'`);
  if (!['debug', 'info', 'warn', 'error'].includes(cfg.logLevel)) throw invalidArgument(`invalid log level: ${cfg.logLevel}`);
  if (cfg.procView !== 'lxcfs' && cfg.procView !== 'host') throw invalidArgument(`invalid --proc-view ${cfg.procView}: lxcfs or host`);
  if (cfg.healthProbes !== 'agent' && cfg.healthProbes !== 'exec') throw invalidArgument(`invalid --health-probes ${cfg.healthProbes}: agent or exec`);
  if (cfg.bandwidthCapacity) parseRate(cfg.bandwidthCapacity, '"--bandwidth-capacity" flag');
  if (cfg.bandwidthLink && !/^[a-zA-Z0-9_.@-]{1,15}$/.test(cfg.bandwidthLink)) throw invalidArgument(`invalid --bandwidth-link ${cfg.bandwidthLink}: an interface name`);
  return cfg;
}
