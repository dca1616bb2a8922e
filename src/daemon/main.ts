import * as fs from 'node:fs';
import * as path from 'node:path';
import { createApiServer, listenUnix } from '../api/server';
import { errorMessage } from '../base/errors';
import { lockFolder } from '../base/pid-lock';
import { createLogger, type Logger } from '../base/log';
import { which } from '../base/which';
import { BERTH_VERSION, Engine } from '../engine/engine';
import { ClusterService } from '../cluster/cluster';
import { engineForAgent } from '../cluster/agent/engine-agent';
import { detectHost } from '../host/features';
import { infoWarnings, rateLimits, sharesUnsupported } from '../host/report';
import type { HostFeatures } from '../host/features';
import { parseRate } from '../base/rates';
import { defaultRouteDevice, linkSpeed } from '../network/htb';
import type { SharedLinkConfig } from '../engine/networks/shared-link';
import { parseSize } from '../base/sizes';
import { parseMinFree } from '../engine/system/disk-guard';
import { logLimits } from '../engine/logs/logs';
import { type DaemonConfig, parseDaemonArgs } from './config';

/** The shared link: the options', or the default route's device at the speed it reports. */
async function sharedLinkOf(cfg: DaemonConfig, host: HostFeatures): Promise<SharedLinkConfig> {
  const device = cfg.bandwidthLink || (await defaultRouteDevice());
  const capacity = cfg.bandwidthCapacity ? parseRate(cfg.bandwidthCapacity, '"--bandwidth-capacity" flag') : device ? linkSpeed(device) : undefined;
  return { device, capacity, unsupported: sharesUnsupported(host) };
}

/** `berth daemon ...`: runs until SIGTERM/SIGINT; containers keep running when it stops. */
export async function runDaemon(argv: string[]): Promise<void> {
  const cfg = parseDaemonArgs(argv);
  const logger = createLogger(cfg.logLevel);
  const runtimes: Record<string, string> = {};
  for (const n of ['runc', 'crun']) {
    const p = which(n);
    if (p) runtimes[n] = p;
  }
  Object.assign(runtimes, cfg.runtimes);
  if (!runtimes[cfg.defaultRuntime]) throw new Error(`default runtime ${cfg.defaultRuntime} not found`);
  const conmonPath = which('conmon');
  if (!conmonPath) throw new Error('conmon not found: run scripts/setup');
  const cniPluginDirs = ['/usr/lib/cni', '/opt/cni/bin'].filter((d) => fs.existsSync(path.join(d, 'bridge')));
  if (!cniPluginDirs.length) throw new Error('CNI plugins not found (containernetworking-plugins): run scripts/setup');
  const unlock = lockFolder(cfg.dataRoot, 'berth.pid', 'daemon');
  const host = await detectHost();
  if (cfg.defaultRuntime === 'crun' && host.cgroups.hybridControllers.length) {
    throw new Error(`the default runtime crun cannot run containers on this host (cgroup v1 beside a v2 hierarchy with ${host.cgroups.hybridControllers.join(', ')}): use --default-runtime runc`);
  }
  const initPath = which('tini-static') ?? '/usr/bin/tini-static';
  // dockerd logs what the host lacks at start; so does Berth, once.
  const lxcfsPath = which('lxcfs');
  const procView = cfg.procView !== 'lxcfs' ? 'off' : lxcfsPath ? 'lxcfs' : 'missing';
  for (const w of infoWarnings(host, { runtimes: Object.keys(runtimes), init: fs.existsSync(initPath), procView })) logger.warn(w.replace(/^WARNING: /, ''));
  const engine = await Engine.open({
    dataRoot: cfg.dataRoot,
    execRoot: cfg.execRoot,
    runtimes,
    defaultRuntime: cfg.defaultRuntime,
    conmonPath,
    initPath,
    cgroupParent: cfg.cgroupParent,
    defaultShmSize: parseSize(cfg.defaultShmSize),
    minFree: parseMinFree(cfg.minFreeSpace),
    procView: { wanted: cfg.procView === 'lxcfs', lxcfsPath },
    probeAgent: cfg.healthProbes === 'agent' ? probeAgentBinary(logger) : undefined,
    log: logLimits(cfg.logOpts, { maxSize: 0, maxFile: 1 }),
    defaultInit: cfg.init,
    network: { bridge: cfg.bridge, cniPluginDirs, rateLimits: rateLimits(host), ipv6: host.net.ipv6, sharedLink: await sharedLinkOf(cfg, host) },
    registries: { insecure: cfg.insecureRegistries, certsDir: cfg.certsDir },
    logger,
    host,
  });
  const socketPath = cfg.host.slice('unix://'.length);
  fs.mkdirSync(path.dirname(socketPath), { recursive: true });
  const cluster = await ClusterService.open(cfg.dataRoot, engineForAgent(engine), logger, BERTH_VERSION, cfg.nodeName || undefined);
  const server = createApiServer(engine, cluster, logger);
  await listenUnix(server, socketPath);
  logger.info('daemon listening', { socket: socketPath, dataRoot: cfg.dataRoot, execRoot: cfg.execRoot });
  const stop = async (sig: string) => {
    logger.info('daemon stopping', { signal: sig });
    // The cluster's loops and etcd member stop; containers keep running.
    await cluster.close().catch((e) => logger.warn('cluster close', { error: errorMessage(e) }));
    engine.close();
    server.close();
    server.closeAllConnections();
    fs.rmSync(socketPath, { force: true });
    unlock();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (e) => logger.error('unhandled rejection (bug)', { error: errorMessage(e), stack: (e as Error)?.stack }));
}

/** The probe agent built beside the native addon (scripts/setup builds both); without it probes are exec sessions, and the log says so. */
function probeAgentBinary(logger: Logger): string | undefined {
  const p = path.join(__dirname, '../../../native/build/Release/berth-probe');
  if (fs.existsSync(p)) return p;
  logger.warn('the health-probe agent is not built (run scripts/setup): health probes run as exec sessions', { path: p });
  return undefined;
}
