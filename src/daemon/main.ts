import * as fs from 'node:fs';
import * as path from 'node:path';
import { createApiServer, listenUnix } from '../api/server';
import { errorMessage } from '../base/errors';
import { lockFolder } from '../base/pid-lock';
import { createLogger } from '../base/log';
import { Engine } from '../engine/engine';
import { logLimits, parseSize } from '../engine/logs';
import { parseDaemonArgs } from './config';

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
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
  const engine = await Engine.open({
    dataRoot: cfg.dataRoot,
    execRoot: cfg.execRoot,
    runtimes,
    defaultRuntime: cfg.defaultRuntime,
    conmonPath,
    initPath: which('tini-static') ?? '/usr/bin/tini-static',
    cgroupParent: cfg.cgroupParent,
    defaultShmSize: parseSize(cfg.defaultShmSize),
    log: logLimits(cfg.logOpts, { maxSize: 0, maxFile: 1 }),
    defaultInit: cfg.init,
    network: { bridge: cfg.bridge, cniPluginDirs },
    registries: { insecure: cfg.insecureRegistries, certsDir: cfg.certsDir },
    logger,
  });
  const socketPath = cfg.host.slice('unix://'.length);
  fs.mkdirSync(path.dirname(socketPath), { recursive: true });
  const server = createApiServer(engine, logger);
  await listenUnix(server, socketPath);
  logger.info('daemon listening', { socket: socketPath, dataRoot: cfg.dataRoot, execRoot: cfg.execRoot });
  const stop = (sig: string) => {
    logger.info('daemon stopping', { signal: sig });
    engine.close();
    server.close();
    server.closeAllConnections();
    fs.rmSync(socketPath, { force: true });
    unlock();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (e) => logger.error('unhandled rejection (bug)', { error: errorMessage(e), stack: (e as Error)?.stack }));
}
