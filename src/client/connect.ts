import * as fs from 'node:fs';
import * as path from 'node:path';
import { BerthError } from '../base/errors';
import { isListening as listening } from '../base/socket';
import { ApiClient } from './client';

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';

/** The daemon address: -H, then BERTH_HOST, then DOCKER_HOST, then the default socket. */
export function resolveHost(flag?: string, env: NodeJS.ProcessEnv = process.env): { host: string; isDefault: boolean } {
  const host = flag || env.BERTH_HOST || env.DOCKER_HOST;
  if (!host) return { host: DEFAULT_HOST, isDefault: true };
  if (!host.startsWith('unix://')) throw new BerthError('invalid_argument', `only unix:// hosts are supported, got ${host}`);
  return { host, isDefault: host === DEFAULT_HOST };
}


/**
 * A client for the daemon; when nothing listens at the default socket, the
 * daemon is started in the background (logging to <data root>/daemon.log).
 */
export async function connect(hostFlag?: string): Promise<ApiClient> {
  const { host, isDefault } = resolveHost(hostFlag);
  const socketPath = host.slice('unix://'.length);
  if (isDefault && !(await listening(socketPath))) {
    fs.mkdirSync(DEFAULT_DATA_ROOT, { recursive: true, mode: 0o711 });
    const log = fs.openSync(path.join(DEFAULT_DATA_ROOT, 'daemon.log'), 'a');
    const env = { ...process.env };
    // bin/berth set it aside for the client's start-up; the daemon needs it for TLS.
    if (env.BERTH_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = env.BERTH_EXTRA_CA_CERTS;
    delete env.BERTH_EXTRA_CA_CERTS;
    // Loaded only here: most commands never start a daemon, and start-up time counts.
    const { spawn } = await import('node:child_process');
    const child = spawn(path.join(__dirname, '../../../bin/berth'), ['daemon'], { detached: true, stdio: ['ignore', log, log], env });
    child.unref();
    fs.closeSync(log);
    for (let i = 0; i < 200 && !(await listening(socketPath)); i++) await new Promise((r) => setTimeout(r, 25));
    if (!(await listening(socketPath))) throw new BerthError('unavailable', `the Berth daemon did not start; see ${path.join(DEFAULT_DATA_ROOT, 'daemon.log')}`);
  }
  return new ApiClient(socketPath);
}
