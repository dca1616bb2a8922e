import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { invalidArgument } from '../base/errors';

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
  /** Set when the client asked to upgrade the connection (attach, exec start). */
  upgrade?: { socket: Duplex; head: Buffer };
  /** The body of an upgraded request, split off the raw stream by Content-Length. */
  upgradeBody?: Buffer;
  /** The API version in the path, if any. */
  version?: string;
}

export type Handler = (ctx: Context) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** Method + regular-expression routes; capture groups become params. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, pattern: new RegExp(`^${pattern}$`), handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: string[] } | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { handler: r.handler, params: m.slice(1).map(decodeURIComponent) };
    }
    return pathMatched ? 'method' : undefined;
  }
}

// ---- request helpers ---------------------------------------------------------

const MAX_JSON = 16 * 1024 * 1024;

/** The JSON body, or `{}` when empty; malformed JSON is the client's error. */
export async function jsonBody<T>(ctx: Context): Promise<T> {
  const chunks: Buffer[] = ctx.upgradeBody ? [ctx.upgradeBody] : [];
  let size = 0;
  for await (const c of ctx.upgrade ? [] : ctx.req) {
    size += (c as Buffer).length;
    if (size > MAX_JSON) throw invalidArgument('request body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalidArgument(`malformed JSON in request body: ${(e as Error).message}`);
  }
}

export function qBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

export function qInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalidArgument(`invalid value for ${name}: ${v}`);
  return n;
}

export function sendJson(ctx: Context, status: number, body: unknown): void {
  const data = JSON.stringify(body) + '\n';
  ctx.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  ctx.res.end(data);
}

export function sendEmpty(ctx: Context, status = 204): void {
  ctx.res.writeHead(status);
  ctx.res.end();
}
