import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { BerthError, errorMessage } from '../../base/errors';
import type { Logger } from '../../base/log';
import type { JoinGrant, JoinRequest, Promotion, Renewal } from './join';
import type { CaKeyPair } from './local-certs';
import type { Credentials } from './pki';

export interface EndpointHandlers {
  /** A manager's: a node asks to join (no certificate yet: the token decides). */
  join?: (r: JoinRequest) => Promise<JoinGrant>;
  /** For a manager's certificate only: a task's log from this node, written to `res` as docker's frames. */
  taskLogs: (taskId: string, query: URLSearchParams, res: ServerResponse, signal: AbortSignal) => Promise<void>;
  /** A manager's, for a node of the cluster the managers made a manager: its new certificate (signed from its request), the CA and the CA's key. */
  promote?: (nodeId: string, csr: string) => Promise<Promotion>;
  /** A manager's, for any node of the cluster: a new certificate for a new key (its role and address from the store, never from the request). */
  renew?: (nodeId: string, csr: string) => Promise<Renewal>;
  /** A manager's, for the cluster's managers: a CA key it holds (a rotation's new one, for a manager that does not hold it yet). */
  caKey?: (key: string) => Promise<CaKeyPair>;
  /** For any node of the cluster: an image blob from `offset` on (undefined: this node has none), once held where `wait`. */
  blob?: (digest: string, offset: number, wait: boolean) => Promise<{ size: number; stream: Readable } | undefined>;
}

const MAX_BODY = 64 * 1024;

/**
 * A node's cluster endpoint (swarm's port 2377): TLS with the node's
 * certificate and the CA behind it. A joiner, who has no certificate yet,
 * pins the CA by the digest in its token before it sends the token;
 * blobs and promotions are for any node of the cluster, task logs for
 * managers; each must show a certificate of the cluster's CA (mutual TLS).
 */
export class ClusterEndpoint {
  private constructor(
    private readonly server: https.Server,
    readonly port: number,
  ) {}

  static listen(host: string, port: number, creds: Credentials, handlers: EndpointHandlers, logger: Logger): Promise<ClusterEndpoint> {
    const tls = { key: creds.key, cert: Buffer.concat([creds.cert, Buffer.from('\n'), creds.ca]), ca: creds.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' as const };
    const server = https.createServer(tls, (req, res) => {
      const send = (status: number, body: unknown) => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'https://node');
      if (req.method === 'POST' && url.pathname === '/join' && handlers.join) return void post(req, handlers.join, send, logger, 'cluster join request');
      const socket = req.socket as TLSSocket;
      // Who asks is who its certificate says (the cluster's CA signed it): a node can only be made what the managers made it.
      const peer = socket.authorized ? socket.getPeerCertificate()?.subject : undefined;
      const nodeId = peer?.CN ? String(peer.CN) : undefined;
      const asked = (p: string, h: ((id: string, csr: string) => Promise<unknown>) | undefined) => req.method === 'POST' && url.pathname === p && h;
      const promote = asked('/promote', handlers.promote) || asked('/renew', handlers.renew);
      if (promote) {
        if (!nodeId) return send(403, { message: 'only the cluster\'s nodes are served here' });
        return void post(req, (b: { csr?: string }) => promote(nodeId, String(b.csr ?? '')), send, logger, `cluster ${url.pathname.slice(1)} request`);
      }
      if (req.method === 'POST' && url.pathname === '/ca-key' && handlers.caKey) {
        if (peer?.OU !== 'swarm-manager') return send(403, { message: 'only the cluster\'s managers are served here' });
        const caKey = handlers.caKey;
        return void post(req, (b: { key?: string }) => caKey(String(b.key ?? '')), send, logger, 'CA key request');
      }
      const blob = /^\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      if (req.method === 'GET' && blob && handlers.blob) {
        if (!socket.authorized) return send(403, { message: 'only the cluster\'s nodes are served here' });
        return void serveBlob(blob[1], url.searchParams, res, handlers.blob, send, logger);
      }
      const logs = /^\/tasks\/([0-9a-z]+)\/logs$/.exec(url.pathname);
      if (req.method !== 'GET' || !logs) return send(404, { message: 'not found' });
      if (!socket.authorized || socket.getPeerCertificate()?.subject?.OU !== 'swarm-manager') return send(403, { message: 'only the cluster\'s managers are served here' });
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      handlers.taskLogs(logs[1], url.searchParams, res, abort.signal).catch((e: unknown) => {
        const status = e instanceof BerthError && e.code === 'not_found' ? 404 : 500;
        if (status === 500) logger.warn('task logs for a manager', { task: logs[1], error: errorMessage(e) });
        send(status, { message: errorMessage(e) });
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(new ClusterEndpoint(server, (server.address() as AddressInfo).port));
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

function serveBlob(digest: string, q: URLSearchParams, res: ServerResponse, blob: NonNullable<EndpointHandlers['blob']>, send: (status: number, body: unknown) => void, logger: Logger): void {
  const offset = Number(q.get('offset') ?? 0);
  if (!Number.isSafeInteger(offset) || offset < 0) return send(400, { message: `bad offset ${q.get('offset')}` });
  blob(digest, offset, q.get('wait') === '1').then((b) => {
    if (!b) return send(404, { message: `no blob ${digest} here` });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Math.max(0, b.size - offset), 'x-berth-offset': offset });
    b.stream.pipe(res);
    res.on('close', () => b.stream.destroy());
  }, (e: unknown) => {
    logger.warn('blob for a peer', { digest, error: errorMessage(e) });
    send(500, { message: errorMessage(e) });
  });
}

/** A JSON request's body to `handle`, its answer or failure sent back (400 for a refusal, 503 else). */
function post<B, R>(req: IncomingMessage, handle: (body: B) => Promise<R>, send: (status: number, body: unknown) => void, logger: Logger, what: string): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    let body: B;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString()) as B;
    } catch {
      return send(400, { message: `the ${what} is not JSON` });
    }
    handle(body).then((g) => send(200, g), (e: unknown) => {
      const status = e instanceof BerthError && e.code === 'invalid_argument' ? 400 : 503;
      if (status !== 400) logger.warn(what, { error: errorMessage(e) });
      send(status, { message: errorMessage(e) });
    });
  });
}
