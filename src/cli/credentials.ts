import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidArgument } from '../base/errors';
import { parseReference } from '../oci/reference';

/** docker's key for Docker Hub in config.json. */
const HUB = 'https://index.docker.io/v1/';

export interface Login {
  username: string;
  password: string;
  serveraddress: string;
}

/** docker's config.json: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. Shared with the docker CLI. */
export function configPath(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json');
}

function readConfig(): { auths?: Record<string, { auth?: string; identitytoken?: string }>; [k: string]: unknown } {
  try {
    return JSON.parse(fs.readFileSync(configPath(), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw invalidArgument(`${configPath()}: ${(e as Error).message}`);
  }
}

/** The config key of a registry: its host, or docker's URL for Docker Hub. */
export function serverKey(server: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io' ? HUB : host;
}

/** The registry of an image reference, as config.json keys it. */
export const serverOf = (reference: string) => serverKey(parseReference(reference).domain);

export function credentialsFor(server: string): Login | undefined {
  const key = serverKey(server);
  const entry = readConfig().auths?.[key] ?? readConfig().auths?.[`https://${key}`] ?? readConfig().auths?.[`http://${key}`];
  if (!entry?.auth) return undefined;
  const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  if (i < 0) return undefined;
  return { username: plain.slice(0, i), password: plain.slice(i + 1), serveraddress: key };
}

/** docker's X-Registry-Auth header for a registry, when there are credentials for it. */
export function registryAuthHeader(server: string): Record<string, string> {
  const c = credentialsFor(server);
  return c ? { 'X-Registry-Auth': Buffer.from(JSON.stringify(c)).toString('base64url') } : {};
}

/** docker's X-Registry-Config for builds: every registry's credentials config.json holds. */
export function registryConfigHeader(): Record<string, string> {
  const auths = readConfig().auths ?? {};
  const all: Record<string, Login> = {};
  for (const key of Object.keys(auths)) {
    const c = credentialsFor(key);
    if (c) all[key] = c;
  }
  return Object.keys(all).length ? { 'X-Registry-Config': Buffer.from(JSON.stringify(all)).toString('base64url') } : {};
}

function writeConfig(cfg: object): void {
  const file = configPath();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function storeCredentials(l: Login): void {
  const cfg = readConfig();
  cfg.auths = { ...cfg.auths, [serverKey(l.serveraddress)]: { auth: Buffer.from(`${l.username}:${l.password}`).toString('base64') } };
  writeConfig(cfg);
}

/** Forgets a registry's credentials; false when there were none. */
export function removeCredentials(server: string): boolean {
  const cfg = readConfig();
  const key = serverKey(server);
  if (!cfg.auths?.[key]) return false;
  delete cfg.auths[key];
  writeConfig(cfg);
  return true;
}
