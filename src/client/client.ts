import * as http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { BerthError, type ErrorCode } from '../base/errors';

const CODES: Record<number, ErrorCode> = { 400: 'invalid_argument', 404: 'not_found', 409: 'conflict', 304: 'not_modified', 401: 'unauthorized', 403: 'forbidden', 503: 'unavailable' };

export interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  /** A raw body (tar archives) instead of JSON. */
  stream?: Readable;
  headers?: Record<string, string>;
  /** Lets go of the request (a wait the command no longer needs). */
  signal?: AbortSignal;
}

/** An error the daemon answered with (as opposed to one of the client's own). */
export class DaemonError extends BerthError {}

/** A client of the Engine API over a unix socket. */
export class ApiClient {
  constructor(readonly socketPath: string) {}

  private path(p: string, query: RequestOptions['query']): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else q.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
    }
    const qs = q.toString();
    return `/v1.41${p}${qs ? `?${qs}` : ''}`;
  }

  /** Sends a request and returns the response once headers arrive; errors become BerthErrors. */
  async request(method: string, p: string, o: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string> = { ...o.headers };
      let payload: Buffer | undefined;
      if (o.body !== undefined) {
        payload = Buffer.from(JSON.stringify(o.body));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
      } else if (o.stream) headers['Content-Type'] = 'application/x-tar';
      const req = http.request({ socketPath: this.socketPath, method, path: this.path(p, o.query), headers, signal: o.signal }, resolve);
      req.on('error', (e) => reject(new BerthError('unavailable', `Cannot connect to the Berth daemon at unix://${this.socketPath}. Is the daemon running? (${e.message})`)));
      if (o.stream) o.stream.pipe(req);
      else req.end(payload);
    });
    if (res.statusCode! >= 400) {
      const text = await readAll(res);
      let msg = text.toString().trim();
      try {
        msg = JSON.parse(msg).message ?? msg;
      } catch {
        /* plain text */
      }
      throw new DaemonError(CODES[res.statusCode!] ?? 'internal', msg);
    }
    return res;
  }

  async json<T>(method: string, p: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, p, o);
    const text = (await readAll(res)).toString();
    return (text.trim() ? JSON.parse(text) : undefined) as T;
  }

  /** 304 (already in that state) is not an error for start/stop. */
  async call(method: string, p: string, o: RequestOptions = {}): Promise<number> {
    try {
      const res = await this.request(method, p, o);
      res.resume();
      return res.statusCode!;
    } catch (e) {
      if (e instanceof BerthError && e.code === 'not_modified') return 304;
      throw e;
    }
  }

  /** A streamed JSON-lines response, one parsed object at a time. */
  async *jsonLines<T>(method: string, p: string, o: RequestOptions = {}): AsyncGenerator<T> {
    const res = await this.request(method, p, o);
    let buf = '';
    for await (const chunk of res) {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) yield JSON.parse(line) as T;
      }
    }
    if (buf.trim()) yield JSON.parse(buf) as T;
  }

  /** An upgraded (hijacked) connection: attach and exec start. */
  upgrade(p: string, o: RequestOptions = {}): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const payload = o.body !== undefined ? Buffer.from(JSON.stringify(o.body)) : undefined;
      const req = http.request({
        socketPath: this.socketPath, method: 'POST', path: this.path(p, o.query),
        headers: { Connection: 'Upgrade', Upgrade: 'tcp', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}) },
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', async (res) => {
        const text = (await readAll(res)).toString();
        let msg = text;
        try {
          msg = JSON.parse(text).message;
        } catch {
          /* plain */
        }
        reject(new DaemonError(CODES[res.statusCode!] ?? 'internal', msg));
      });
      req.on('error', (e) => reject(new BerthError('unavailable', `Cannot connect to the Berth daemon at unix://${this.socketPath}: ${e.message}`)));
      req.end(payload);
    });
  }
}

export async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Splits docker's multiplexed stream into (stream, payload) frames. */
export async function* demux(r: AsyncIterable<Buffer>): AsyncGenerator<{ stream: number; data: Buffer }> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of r) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      yield { stream: buf[0], data: buf.subarray(8, 8 + size) };
      buf = buf.subarray(8 + size);
    }
  }
}
