import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage, invalidArgument } from '../base/errors';
import { parseReference } from '../oci/reference';

/** docker's key for Docker Hub in config.json. */
const HUB = 'https://index.docker.io/v1/';

export interface Login {
  username: string;
  password: string;
  /** An OAuth2 refresh token kept instead of a password. */
  identitytoken?: string;
  serveraddress: string;
}

/** docker's config.json: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. Shared with the docker CLI. */
export function configPath(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json');
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  /** The detach sequence the client uses unless --detach-keys says another. */
  detachKeys?: string;
  /** A credential helper for every registry: `docker-credential-<name>`. */
  credsStore?: string;
  /** Per-registry helpers, over credsStore. */
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

function readConfig(): ConfigFile {
  try {
    return JSON.parse(fs.readFileSync(configPath(), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw invalidArgument(`${configPath()}: ${(e as Error).message}`);
  }
}

/** The detach keys a command uses: its --detach-keys, else config.json's detachKeys (docker's order); undefined: docker's default. */
export function detachKeysOf(flag: string | undefined): string | undefined {
  return flag || readConfig().detachKeys || undefined;
}

/** The credential helper that keeps a registry's secrets, as docker chooses it: credHelpers[key], else credsStore. */
export function helperFor(cfg: ConfigFile, key: string): string | undefined {
  return cfg.credHelpers?.[key] || cfg.credsStore || undefined;
}

/** The helper's username that means "the secret is an identity token". */
const TOKEN_USER = '<token>';

/**
 * One call of docker's credential helper protocol: `docker-credential-<name>
 * get|store|erase|list`, the request on stdin, JSON on stdout. Undefined
 * when `get` or `erase` finds nothing.
 */
function callHelper(name: string, action: 'get' | 'store' | 'erase' | 'list', input: string): string | undefined {
  const bin = `docker-credential-${name}`;
  const r = spawnSync(bin, [action], { input, encoding: 'utf8', timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw invalidArgument(`${bin} is not in PATH (named by credsStore or credHelpers in ${configPath()})`);
  if (r.error) throw invalidArgument(`${bin} ${action}: ${r.error.message}`);
  const out = (r.stdout || r.stderr || '').trim();
  if (r.status !== 0) {
    if (/credentials not found/i.test(out) && (action === 'get' || action === 'erase')) return undefined;
    throw invalidArgument(`${bin} ${action}: ${out || `exit status ${r.status}`}`);
  }
  return r.stdout;
}

/**
 * Reading through a helper that is missing or broken (a config.json copied
 * from Docker Desktop names `desktop`) warns and goes on without
 * credentials, where docker fails even pulls of public images.
 */
function tolerant(read: () => string | undefined, what: string): string | undefined {
  try {
    return read();
  } catch (e) {
    process.stderr.write(`WARNING: ${errorMessage(e)}; going on without saved credentials for ${what}\n`);
    return undefined;
  }
}

/** The config key of a registry: its host, or docker's URL for Docker Hub. */
export function serverKey(server: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io' ? HUB : host;
}

/** The registry of an image reference, as config.json keys it. */
export const serverOf = (reference: string) => serverKey(parseReference(reference).domain);

/** The saved credentials of a registry: from its helper, else from config.json's auths. */
export function credentialsFor(server: string): Login | undefined {
  const key = serverKey(server);
  const cfg = readConfig();
  const helper = helperFor(cfg, key);
  if (helper) {
    const out = tolerant(() => callHelper(helper, 'get', key), key);
    if (!out) return undefined;
    const c = JSON.parse(out) as { Username?: string; Secret?: string };
    if (!c.Secret) return undefined;
    return c.Username === TOKEN_USER ? { username: '', password: '', identitytoken: c.Secret, serveraddress: key } : { username: c.Username ?? '', password: c.Secret, serveraddress: key };
  }
  const entry = cfg.auths?.[key] ?? cfg.auths?.[`https://${key}`] ?? cfg.auths?.[`http://${key}`];
  if (entry?.identitytoken) return { username: '', password: '', identitytoken: entry.identitytoken, serveraddress: key };
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

/** A push's X-Registry-Auth: the registry's credentials, else an empty login (a push always carries the header, as docker's does). */
export function pushAuthHeader(server: string): Record<string, string> {
  return { 'X-Registry-Auth': registryAuthHeader(server)['X-Registry-Auth'] ?? Buffer.from('{}').toString('base64url') };
}

/** docker's X-Registry-Config for builds: every registry's credentials, from config.json and its helpers. */
export function registryConfigHeader(): Record<string, string> {
  const cfg = readConfig();
  const keys = new Set([...Object.keys(cfg.auths ?? {}), ...Object.keys(cfg.credHelpers ?? {})]);
  if (cfg.credsStore) for (const k of Object.keys(JSON.parse(tolerant(() => callHelper(cfg.credsStore!, 'list', ''), 'every registry') || '{}'))) keys.add(k);
  const all: Record<string, Login> = {};
  for (const key of keys) {
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

/** Keeps a login: in the registry's helper (config.json then only names the registry, as docker's), else in config.json. */
export function storeCredentials(l: Login): void {
  const cfg = readConfig();
  const key = serverKey(l.serveraddress);
  const helper = helperFor(cfg, key);
  if (helper) callHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: l.username, Secret: l.password }));
  cfg.auths = { ...cfg.auths, [key]: helper ? {} : { auth: Buffer.from(`${l.username}:${l.password}`).toString('base64') } };
  writeConfig(cfg);
}

/** Forgets a registry's credentials, in its helper and config.json; false when there were none. */
export function removeCredentials(server: string): boolean {
  const cfg = readConfig();
  const key = serverKey(server);
  const helper = helperFor(cfg, key);
  const inHelper = helper ? callHelper(helper, 'erase', key) !== undefined : false;
  if (!cfg.auths?.[key]) return inHelper;
  delete cfg.auths[key];
  writeConfig(cfg);
  return true;
}
