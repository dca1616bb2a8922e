import type { ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { BerthError, invalidArgument } from '../base/errors';
import { type Credentials, serverDomain } from '../engine/images/registries';
import type { Context } from './router';

export { dockerTime, encodeBatch, frame, STDERR, STDOUT } from '../engine/logs/frames';

export interface Hijacked {
  /** Writes output; resolves when the peer has taken it (backpressure). */
  write(b: Buffer): Promise<void>;
  end(): void;
  /** Client input, when the connection was upgraded. */
  input?: Duplex;
  closed: Promise<void>;
}

/**
 * Takes over the connection for a raw stream, as docker does for attach and
 * exec: `101 UPGRADED` when the client asked for it (then input flows too);
 * otherwise a 200 with an unframed, close-delimited body (output only).
 */
export function hijack(ctx: Context, contentType: string): Hijacked {
  if (ctx.upgrade) {
    const s = ctx.upgrade.socket;
    s.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    if (ctx.upgrade.head.length) s.unshift(ctx.upgrade.head);
    const closed = new Promise<void>((res) => {
      s.once('close', () => res());
      s.once('error', () => res());
    });
    return { write: (b) => writeOrWait(s, b), end: () => s.end(), input: s, closed };
  }
  const res = ctx.res;
  (res as unknown as { useChunkedEncodingByDefault: boolean }).useChunkedEncodingByDefault = false;
  res.writeHead(200, { 'Content-Type': contentType, Connection: 'close' });
  res.flushHeaders();
  const closed = new Promise<void>((r) => res.once('close', () => r()));
  return { write: (b) => writeOrWait(res, b), end: () => res.end(), closed };
}

/** Starts a streamed response (logs, events, stats, wait) with its headers sent at once. */
export function streamResponse(ctx: Context, contentType: string): { write(b: Buffer | string): Promise<void>; end(): void; closed: Promise<void> } {
  ctx.res.writeHead(200, { 'Content-Type': contentType });
  ctx.res.flushHeaders();
  const closed = new Promise<void>((r) => ctx.res.once('close', () => r()));
  return { write: (b) => writeOrWait(ctx.res, b), end: () => ctx.res.end(), closed };
}

/**
 * Writes, then waits until the peer can take more, or never will (it hung
 * up): a writer never waits on a client that left, and no listener is left
 * behind either way.
 */
export function writeOrWait(s: Writable | Duplex | ServerResponse, b: Buffer | string): Promise<void> {
  if (s.destroyed || s.writableEnded) return Promise.resolve();
  if (s.write(b)) return Promise.resolve();
  return new Promise((r) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      s.off('error', done);
      r();
    };
    s.on('drain', done);
    s.on('close', done);
    s.on('error', done);
  });
}

/**
 * A JSON-lines progress response (build, bootstrap) as docker sends one:
 * an error before the first message is the response's status; after it,
 * the last message (`errorDetail`).
 */
export async function progressResponse(ctx: Context, work: (emit: (m: object | undefined) => void) => Promise<unknown>): Promise<void> {
  let out: ReturnType<typeof streamResponse> | undefined;
  let chain = Promise.resolve();
  // A message withheld (a quiet build's steps) still opens the stream: later errors go in it, as docker's do.
  const emit = (m: object | undefined) => {
    const o = (out ??= streamResponse(ctx, 'application/json'));
    if (m) chain = chain.then(() => o.write(JSON.stringify(m) + '\n'));
  };
  try {
    await work(emit);
    await chain;
  } catch (e) {
    if (!out) throw e;
    await chain.catch(() => undefined); // a client gone mid-stream: the error message below has nowhere to go either
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof BerthError ? e.exitCode : undefined;
    await out.write(JSON.stringify({ errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message }) + '\n');
  }
  out?.end();
}

/** Aborted when the client hangs up before the answer is whole. */
export function hangup(ctx: Context): AbortSignal {
  const c = new AbortController();
  ctx.res.once('close', () => !ctx.res.writableFinished && c.abort());
  return c.signal;
}

/** docker's X-Registry-Auth: base64url JSON of the credentials for the registry of the request. */
export function registryAuth(ctx: Context): Credentials | undefined {
  const h = ctx.req.headers['x-registry-auth'];
  if (typeof h !== 'string' || !h) return undefined;
  try {
    const c = decodeAuth(JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Credentials & { auth?: string });
    return Object.values(c).some(Boolean) ? c : undefined;
  } catch {
    throw invalidArgument('X-Registry-Auth: not base64url JSON');
  }
}

/** docker's X-Registry-Config (builds): base64url JSON of registry → credentials. */
export function registryConfig(ctx: Context): Record<string, Credentials> | undefined {
  const h = ctx.req.headers['x-registry-config'];
  if (typeof h !== 'string' || !h) return undefined;
  try {
    const all = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, Credentials & { auth?: string }>;
    return Object.fromEntries(Object.entries(all).map(([server, c]) => [serverDomain(server), decodeAuth(c)]));
  } catch {
    throw invalidArgument('X-Registry-Config: not base64url JSON');
  }
}

function decodeAuth(c: Credentials & { auth?: string }): Credentials {
  if (!c.auth || c.username) return c;
  const plain = Buffer.from(c.auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  return { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

/** A pull or push step as docker's progress JSON, with its bar. */
export function progressMessage(e: { id?: string; status: string; current?: number; total?: number }): object {
  const m: Record<string, unknown> = { status: e.status };
  if (e.id) m.id = e.id;
  if (e.current !== undefined) {
    m.progressDetail = { current: e.current, ...(e.total ? { total: e.total } : {}) };
    m.progress = progressBar(e.current, e.total);
  } else if (e.id) m.progressDetail = {};
  return m;
}

/** docker's bar: `[=====>        ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total?: number): string {
  const size = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}kB` : `${n}B`);
  if (!total) return size(current);
  const width = 50;
  const done = Math.min(width, Math.floor((current / total) * width));
  const bar = '='.repeat(Math.max(0, done - 1)) + (done > 0 ? (done === width ? '=' : '>') : '') + ' '.repeat(width - done);
  return `[${bar}] ${size(current).padStart(8)}/${size(total)}`;
}
