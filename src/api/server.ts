import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { invalidArgument, isErrno } from '../base/errors';
import type { Logger } from '../base/log';
import { isListening } from '../base/socket';
import type { Engine } from '../engine/engine';
import type { ClusterService } from '../cluster/cluster';
import { buildRoutes } from './compat/build';
import { containerRoutes } from './compat/containers';
import { execRoutes } from './compat/exec';
import { imageRoutes } from './compat/images';
import { pingHeaders, systemRoutes } from './compat/system';
import { networkRoutes } from './compat/networks';
import { swarmRoutes } from './compat/swarm';
import { volumeRoutes } from './compat/volumes';
import { nativeSystemRoutes } from './native/system';
import { httpError } from './errors';
import { type Context, Router } from './router';

/** Docker Engine API routes, and Berth's own, over one engine. */
export function compatRouter(engine: Engine, cluster: ClusterService): Router {
  const r = new Router();
  systemRoutes(r, engine, cluster);
  containerRoutes(r, engine);
  execRoutes(r, engine);
  imageRoutes(r, engine);
  buildRoutes(r, engine);
  volumeRoutes(r, engine);
  networkRoutes(r, engine, cluster);
  swarmRoutes(r, cluster);
  nativeSystemRoutes(r, engine);
  return r;
}

/**
 * The daemon's HTTP server: versioned (`/v1.41/...`) and unversioned
 * paths, errors as `{"message": ...}` with docker's statuses, and upgraded
 * connections for attach and exec.
 */
export function createApiServer(engine: Engine, cluster: ClusterService, logger: Logger): http.Server {
  const router = compatRouter(engine, cluster);

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse, upgrade?: { socket: Duplex; head: Buffer }, upgradeBody?: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://berth');
    let p = url.pathname.replace(/\/+$/, '') || '/';
    let version: string | undefined;
    const vm = /^\/v(\d+\.\d+)(\/.*)$/.exec(p);
    if (vm) {
      version = vm[1];
      p = vm[2];
    }
    const ctx: Context = { req, res, params: [], query: url.searchParams, upgrade, upgradeBody, version };
    try {
      if (version && Number(version) < 1.24) {
        throw invalidArgument(`client version ${version} is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version`);
      }
      const m = router.match(req.method ?? 'GET', p);
      if (m === undefined) return sendError(ctx, 404, 'page not found');
      if (m === 'method') return sendError(ctx, 405, `method ${req.method} not allowed`);
      ctx.params = m.params;
      await m.handler(ctx);
    } catch (e) {
      const err = httpError(e);
      // A client that hangs up mid-answer (docker save | head) is no bug of ours.
      if (res.destroyed && isErrno(e, 'ERR_STREAM_PREMATURE_CLOSE')) return logger.debug('client went away', { method: req.method, path: p });
      if (err.bug) logger.error('request failed', { method: req.method, path: p, error: err.message, stack: (e as Error).stack });
      else logger.debug('request refused', { method: req.method, path: p, status: err.status, error: err.message });
      sendError(ctx, err.status, err.message);
    }
  };

  // Room for registry credentials and build secrets, which travel in headers as docker's do.
  const server = http.createServer({ maxHeaderSize: 64 << 10 }, (req, res) => void dispatch(req, res));
  server.on('upgrade', (req, socket, head) => {
    // A response object for errors before the switch; the hijack writes on the socket itself.
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as net.Socket);
    void splitUpgradeBody(req, socket, head).then(
      ({ body, rest }) => dispatch(req, res, { socket, head: rest }, body),
      () => socket.destroy(),
    );
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

/** An upgraded request's body precedes the raw stream on the socket: take Content-Length bytes of it. */
async function splitUpgradeBody(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const len = Number(req.headers['content-length'] ?? 0);
  let buf = head;
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((res) => {
      const onData = (d: Buffer) => {
        socket.off('end', onEnd);
        // Paused again: whoever takes the stream resumes it by listening.
        socket.pause();
        res(d);
      };
      const onEnd = () => {
        socket.off('data', onData);
        res(null);
      };
      socket.once('data', onData);
      socket.once('end', onEnd);
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  return { body: buf.subarray(0, len), rest: buf.subarray(len) };
}

function sendError(ctx: Context, status: number, message: string): void {
  const res = ctx.res;
  if (res.headersSent || (ctx.upgrade && ctx.upgrade.socket.destroyed)) {
    res.destroy();
    return;
  }
  if (status === 304) {
    res.writeHead(304, pingHeadersSubset());
    res.end();
    return;
  }
  const body = JSON.stringify({ message }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  if (ctx.upgrade) res.once('finish', () => ctx.upgrade!.socket.end());
}

function pingHeadersSubset(): Record<string, string> {
  return { 'API-Version': pingHeaders()['API-Version'] };
}

/** Listens on a unix socket; a stale socket file (nobody answering) is replaced, a live one is an error. */
export async function listenUnix(server: http.Server, socketPath: string): Promise<void> {
  if (fs.existsSync(socketPath)) {
    if (await isListening(socketPath)) throw new Error(`another daemon is listening on ${socketPath}`);
    fs.rmSync(socketPath, { force: true });
  }
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(socketPath, () => {
      server.off('error', rej);
      res();
    });
  });
  try {
    fs.chmodSync(socketPath, 0o660);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}
