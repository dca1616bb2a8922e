import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { flagsOf } from '../base/argv';
import { errorMessage, invalidArgument } from '../base/errors';
import { parseGoDuration } from '../base/duration';
import { createLogger, type Level } from '../base/log';
import { lockFolder, lockHolder } from '../base/pid-lock';
import type { AccessRule, AuthMode } from '../registry/auth';
import type { GcOptions, GcReport } from '../registry/gc';
import { Registry } from '../registry/registry';

const USAGE = `Usage:
  berth registry serve [--addr 127.0.0.1:5000] [--root DIR] [--htpasswd FILE [--auth basic|token] [--access FILE]]
                       [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--log-level LEVEL]
  berth registry gc [--root DIR] [--dry-run] [--delete-untagged] [--grace 1h] [--upload-ttl 24h]`;

const DEFAULT_ROOT = '/var/lib/berth/registry';
const BOOL = new Set(['--dry-run', '--delete-untagged']);

function parseArgs(argv: string[], known: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { flag, value } of flagsOf(argv, (a) => known.includes(a) && !BOOL.has(a))) {
    if (!known.includes(flag)) throw invalidArgument(`unknown flag: ${flag}\n${USAGE}`);
    out.set(flag, value ?? 'true');
  }
  return out;
}

function duration(s: string | undefined, dflt: number, flag: string): number {
  if (s === undefined) return dflt;
  const ms = parseGoDuration(s);
  if (ms === undefined) throw invalidArgument(`${flag}: invalid duration ${JSON.stringify(s)}`);
  return ms;
}

/** `berth registry serve|gc`: Berth's own registry, in this process. */
export async function runRegistry(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'serve') return serve(parseArgs(rest, ['--addr', '--root', '--htpasswd', '--auth', '--access', '--tls-cert', '--tls-key', '--tls-client-ca', '--log-level']));
  if (sub === 'gc') return gc(parseArgs(rest, ['--root', '--dry-run', '--delete-untagged', '--grace', '--upload-ttl']));
  throw invalidArgument(USAGE);
}

async function serve(f: Map<string, string>): Promise<void> {
  const root = path.resolve(f.get('--root') ?? DEFAULT_ROOT);
  const logger = createLogger((f.get('--log-level') ?? 'info') as Level);
  const htpasswdFile = f.get('--htpasswd');
  const mode = (f.get('--auth') ?? (htpasswdFile ? 'basic' : 'none')) as AuthMode;
  if (!['none', 'basic', 'token'].includes(mode)) throw invalidArgument(`--auth: basic or token, not ${mode}`);
  if (mode !== 'none' && !htpasswdFile) throw invalidArgument(`--auth ${mode} needs --htpasswd`);
  const accessFile = f.get('--access');
  const rules = accessFile ? readJson<AccessRule[]>(accessFile, '--access') : undefined;
  const [host, portText] = splitAddr(f.get('--addr') ?? '127.0.0.1:5000');
  const cert = f.get('--tls-cert');
  const key = f.get('--tls-key');
  if (!cert !== !key) throw invalidArgument('--tls-cert and --tls-key go together');
  const clientCa = f.get('--tls-client-ca');
  if (clientCa && !cert) throw invalidArgument('--tls-client-ca needs --tls-cert and --tls-key');

  const unlock = lockFolder(root, 'registry.pid', 'registry');
  const registry = await Registry.open(root, { auth: mode, htpasswd: htpasswdFile && fs.readFileSync(htpasswdFile, 'utf8'), rules, logger });
  const handler = registry.handler(cert ? 'https' : 'http');
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => void handler(req, res);
  // distribution's http.tls.clientcas: only clients with a certificate these CAs signed are served.
  const mutual = clientCa ? { ca: fs.readFileSync(clientCa), requestCert: true, rejectUnauthorized: true } : {};
  const server = cert ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key!), ...mutual }, onRequest) : http.createServer(onRequest);
  // Big blobs stream for minutes; idle keep-alive connections are what the timeouts are for.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(portText), host, resolve));
  const admin = await adminServer(root, registry);
  const addr = server.address() as { address: string; port: number };
  logger.info('registry listening', { addr: `${addr.address}:${addr.port}`, root, auth: mode, tls: Boolean(cert) });
  const stop = async (sig: string) => {
    logger.info('registry stopping', { signal: sig });
    server.close();
    server.closeAllConnections();
    admin.close();
    await registry.close();
    fs.rmSync(adminSocket(root), { force: true });
    unlock();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (e) => logger.error('unhandled rejection (bug)', { error: errorMessage(e), stack: (e as Error)?.stack }));
}

const adminSocket = (root: string) => path.join(root, 'admin.sock');

/** A unix socket (root only) on which `registry gc` asks a running server to collect, under the server's own gate. */
async function adminServer(root: string, registry: Registry): Promise<http.Server> {
  const sock = adminSocket(root);
  fs.rmSync(sock, { force: true });
  const admin = http.createServer(async (req, res) => {
    try {
      if (req.method !== 'POST' || req.url !== '/gc') throw invalidArgument('no such admin endpoint');
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const report = await registry.gc(JSON.parse(Buffer.concat(chunks).toString('utf8')) as GcOptions);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(report));
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: errorMessage(e) }));
    }
  });
  await new Promise<void>((resolve, reject) => admin.once('error', reject).listen(sock, resolve));
  fs.chmodSync(sock, 0o600);
  return admin;
}

async function gc(f: Map<string, string>): Promise<void> {
  const root = path.resolve(f.get('--root') ?? DEFAULT_ROOT);
  if (!fs.existsSync(path.join(root, 'repositories'))) throw invalidArgument(`${root} is not a registry root`);
  const o: GcOptions = {
    dryRun: f.has('--dry-run') && f.get('--dry-run') !== 'false',
    deleteUntagged: f.has('--delete-untagged') && f.get('--delete-untagged') !== 'false',
    graceMs: duration(f.get('--grace'), 3600_000, '--grace'),
    uploadTtlMs: duration(f.get('--upload-ttl'), 24 * 3600_000, '--upload-ttl'),
  };
  let report;
  if (lockHolder(path.join(root, 'registry.pid')) !== undefined) {
    report = await askServer(adminSocket(root), o);
  } else {
    const unlock = lockFolder(root, 'registry.pid', 'registry');
    try {
      const registry = await Registry.open(root, { auth: 'none', logger: createLogger('warn') });
      report = await registry.gc(o);
      await registry.close();
    } finally {
      unlock();
    }
  }
  const verb = o.dryRun ? 'would remove' : 'removed';
  process.stdout.write(
    `${verb} ${report.blobs} blobs (${report.bytes} bytes), ${report.manifests} manifests, ${report.links} dangling links, ${report.uploads} stale uploads; kept ${report.recent} unreferenced blobs as recent\n`,
  );
  // What could not go is said, and makes the command fail: nothing was counted for it.
  for (const f of report.failed) process.stderr.write(`not removed: ${f}\n`);
  if (report.failed.length) process.exitCode = 1;
}

function askServer(socketPath: string, o: GcOptions): Promise<GcReport> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: '/gc', headers: { 'Content-Type': 'application/json' } }, async (res) => {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (res.statusCode !== 200) reject(new Error(body.message));
      else resolve(body);
    });
    req.on('error', (e) => reject(new Error(`the registry serving this root does not answer on ${socketPath}: ${e.message}`)));
    req.end(JSON.stringify(o));
  });
}

function splitAddr(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : '0.0.0.0';
  const port = addr.slice(i + 1);
  if (!/^\d{1,5}$/.test(port)) throw invalidArgument(`--addr: want host:port, got ${addr}`);
  return [host, port];
}

function readJson<T>(file: string, flag: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw invalidArgument(`${flag} ${file}: ${errorMessage(e)}`);
  }
}
