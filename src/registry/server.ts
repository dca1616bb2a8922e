import type * as http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../base/log';
import type { Writer } from '../content/store';
import { type Digest, isDigest } from '../oci/digest';
import { MediaType } from '../oci/image';
import type { Authorizer, Need } from './auth';
import { RegistryError, regErr } from './errors';
import { MAX_MANIFEST } from './manifest-check';
import { checkName } from './names';
import { page, type Repositories } from './repositories';
import { outOfOrder, type Uploads } from './uploads';

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

interface Route {
  method: string[];
  re: RegExp;
  needs: (name: string, q: URLSearchParams) => Need[];
  handle: (c: Call) => Promise<void>;
}

/** One request: its repository name and path parameter, query, and who asks. */
interface Call {
  req: Req;
  res: Res;
  name: string;
  param: string;
  query: URLSearchParams;
  realm: string;
  account: string;
}

const API_HEADERS = { 'Docker-Distribution-API-Version': 'registry/2.0' };
const pull = (name: string): Need[] => [{ type: 'repository', name, action: 'pull' }];
const push = (name: string): Need[] => [{ type: 'repository', name, action: 'push' }];
const del = (name: string): Need[] => [{ type: 'repository', name, action: 'delete' }];

/**
 * The OCI distribution API (v1.1) over a registry's repositories and
 * upload sessions, with docker's token endpoint at /token. Errors are
 * written as the spec's JSON in one place (`fail`).
 */
export function registryHandler(repos: Repositories, uploads: Uploads, auth: Authorizer, logger: Logger, scheme: 'http' | 'https') {
  const routes: Route[] = [
    { method: ['GET', 'HEAD'], re: /^\/v2\/(.+)\/manifests\/([^/]+)$/, needs: pull, handle: (c) => getManifest(repos, c) },
    { method: ['PUT'], re: /^\/v2\/(.+)\/manifests\/([^/]+)$/, needs: push, handle: (c) => putManifest(repos, c) },
    { method: ['DELETE'], re: /^\/v2\/(.+)\/manifests\/([^/]+)$/, needs: del, handle: (c) => deleteManifest(repos, c) },
    { method: ['POST'], re: /^\/v2\/(.+)\/blobs\/uploads\/?()$/, needs: push, handle: (c) => startUpload(repos, uploads, auth, c) },
    { method: ['GET'], re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, needs: push, handle: (c) => uploadStatus(uploads, c) },
    { method: ['PATCH'], re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, needs: push, handle: (c) => patchUpload(uploads, c) },
    { method: ['PUT'], re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, needs: push, handle: (c) => finishUpload(uploads, c) },
    { method: ['DELETE'], re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, needs: push, handle: (c) => cancelUpload(uploads, c) },
    { method: ['GET', 'HEAD'], re: /^\/v2\/(.+)\/blobs\/([^/]+)$/, needs: pull, handle: (c) => getBlob(repos, c) },
    { method: ['DELETE'], re: /^\/v2\/(.+)\/blobs\/([^/]+)$/, needs: del, handle: (c) => deleteBlob(repos, c) },
    { method: ['GET'], re: /^\/v2\/(.+)\/tags\/list()$/, needs: pull, handle: (c) => listTags(repos, c) },
    { method: ['GET'], re: /^\/v2\/(.+)\/referrers\/([^/]+)$/, needs: pull, handle: (c) => referrers(repos, c) },
  ];

  return async (req: Req, res: Res): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const realm = `${scheme}://${req.headers.host ?? 'localhost'}`;
    const method = req.method ?? 'GET';
    // The path as sent: URL() would resolve `..` segments, and such a name must be refused, not reinterpreted.
    const p = (req.url ?? '/').split('?')[0];
    const t0 = performance.now();
    res.once('finish', () => logger.debug('registry: request', { method, url: req.url, status: res.statusCode, ms: Math.round(performance.now() - t0) }));
    try {
      for (const [k, v] of Object.entries(API_HEADERS)) res.setHeader(k, v);
      if (p === '/token' && (method === 'GET' || method === 'POST')) return await token(auth, req, res, url, realm);
      if (p === '/v2/' || p === '/v2') {
        if (method !== 'GET' && method !== 'HEAD') throw regErr('UNSUPPORTED', 'method not allowed');
        await auth.signIn(req.headers.authorization, realm);
        return json(res, 200, {}, method === 'HEAD');
      }
      if (p === '/v2/_catalog' && method === 'GET') {
        const account = await auth.authorize(req.headers.authorization, realm, [{ type: 'registry', name: 'catalog', action: '*' }]);
        return await catalog(repos, auth, account, url.searchParams, res);
      }
      const matching = routes.filter((r) => r.re.test(p));
      if (!matching.length) throw regErr('UNSUPPORTED', 'no such endpoint', { path: p }, 404);
      const route = matching.find((r) => r.method.includes(method));
      if (!route) throw regErr('UNSUPPORTED', `method ${method} not allowed`);
      const [, name, param] = route.re.exec(p)!;
      checkName(name);
      const account = await auth.authorize(req.headers.authorization, realm, route.needs(name, url.searchParams));
      await route.handle({ req, res, name, param, query: url.searchParams, realm, account });
    } catch (e) {
      fail(res, method, e, logger);
    }
  };
}

function fail(res: Res, method: string, e: unknown, logger: Logger): void {
  const err = e instanceof RegistryError ? e : undefined;
  if (!err) logger.error('registry: request failed', { error: (e as Error)?.stack ?? String(e) });
  if (res.headersSent) return void res.destroy();
  const body = err ? err.body() : { errors: [{ code: 'UNKNOWN', message: 'internal error' }] };
  for (const [k, v] of Object.entries(err?.headers ?? {})) res.setHeader(k, v);
  const offset = (err as { offset?: number } | undefined)?.offset;
  if (offset !== undefined) res.setHeader('Range', rangeHeader(offset));
  json(res, err?.status ?? 500, body, method === 'HEAD');
}

function json(res: Res, status: number, body: unknown, head = false): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(head ? undefined : data);
}

function empty(res: Res, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

/** The upload's progress as the spec's Range header: bytes 0 to the last one held. */
const rangeHeader = (offset: number) => `0-${Math.max(0, offset - 1)}`;

async function readBody(req: Req, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > max) throw regErr('MANIFEST_INVALID', `manifest invalid: larger than ${max} bytes`, undefined, 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function getManifest(repos: Repositories, c: Call): Promise<void> {
  const { digest, link } = await repos.resolve(c.name, c.param);
  const headers = { 'Content-Type': link.mediaType, 'Docker-Content-Digest': digest, 'Content-Length': link.size, ETag: `"${digest}"` };
  if (c.req.method === 'HEAD') {
    c.res.writeHead(200, headers);
    return void c.res.end();
  }
  const body = await repos.content.read(digest);
  c.res.writeHead(200, { ...headers, 'Content-Length': body.length });
  c.res.end(body);
}

async function putManifest(repos: Repositories, c: Call): Promise<void> {
  const body = await readBody(c.req, MAX_MANIFEST);
  const { digest, checked } = await repos.putManifest(c.name, c.param, body, c.req.headers['content-type']);
  empty(c.res, 201, {
    Location: `/v2/${c.name}/manifests/${digest}`,
    'Docker-Content-Digest': digest,
    ...(checked.subject ? { 'OCI-Subject': checked.subject.digest } : {}),
  });
}

async function deleteManifest(repos: Repositories, c: Call): Promise<void> {
  await repos.gate.shared(() => repos.deleteManifest(c.name, c.param));
  empty(c.res, 202);
}

async function getBlob(repos: Repositories, c: Call): Promise<void> {
  const digest = checkDigest(c.param);
  const info = await repos.mustBlob(c.name, digest);
  const headers: Record<string, string | number> = {
    'Docker-Content-Digest': digest,
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: `"${digest}"`,
    'Cache-Control': 'max-age=31536000',
  };
  if (c.req.method === 'HEAD') {
    // A client that finds a blob here will not send it; keep it from the collector's sweep for a while.
    await repos.content.touch(digest);
    c.res.writeHead(200, { ...headers, 'Content-Length': info.size });
    return void c.res.end();
  }
  const range = parseRange(c.req.headers.range, info.size);
  if (range === 'unsatisfiable') {
    c.res.writeHead(416, { 'Content-Range': `bytes */${info.size}`, 'Content-Length': 0 });
    return void c.res.end();
  }
  const src = await repos.content.stream(digest, range);
  if (range) c.res.writeHead(206, { ...headers, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${info.size}` });
  else c.res.writeHead(200, { ...headers, 'Content-Length': info.size });
  await pipeline(src, c.res).catch(() => {});
}

/** An HTTP Range of one span (`bytes=a-b`, `bytes=a-`, `bytes=-n`); others are served whole. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined | 'unsatisfiable' {
  const m = h && /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

async function deleteBlob(repos: Repositories, c: Call): Promise<void> {
  await repos.gate.shared(() => repos.unlinkBlob(c.name, checkDigest(c.param)));
  empty(c.res, 202, { 'Docker-Content-Digest': c.param });
}

function checkDigest(s: string | null | undefined): Digest {
  if (!s || !isDigest(s)) throw regErr('DIGEST_INVALID', 'invalid digest', { digest: s });
  return s;
}

function uploadHeaders(name: string, id: string, offset: number) {
  return { Location: `/v2/${name}/blobs/uploads/${id}`, Range: rangeHeader(offset), 'Docker-Upload-UUID': id, 'Blob-Upload-Session-ID': id };
}

async function startUpload(repos: Repositories, uploads: Uploads, auth: Authorizer, c: Call): Promise<void> {
  const mount = c.query.get('mount');
  const from = c.query.get('from');
  if (mount && from && isDigest(mount) && (await mountable(repos, auth, c, from, mount))) {
    await repos.gate.shared(() => repos.linkBlob(c.name, mount));
    return empty(c.res, 201, { Location: `/v2/${c.name}/blobs/${mount}`, 'Docker-Content-Digest': mount });
  }
  const digest = c.query.get('digest');
  if (digest !== null) {
    // A monolithic upload: the whole blob in the POST.
    checkDigest(digest);
    const id = await uploads.start(c.name);
    // The client never learns this session: if the body breaks, nobody will resume it.
    const info = await uploads
      .with(c.name, id, async (w) => {
        await receive(c.req, w);
        return uploads.commit(c.name, id, w, digest);
      })
      .catch(async (e) => {
        await uploads.purge(c.name, id);
        throw e;
      });
    return empty(c.res, 201, { Location: `/v2/${c.name}/blobs/${info.digest}`, 'Docker-Content-Digest': info.digest });
  }
  const id = await uploads.start(c.name);
  empty(c.res, 202, { ...uploadHeaders(c.name, id, 0), 'OCI-Chunk-Min-Length': 0 });
}

/** A mount needs the source repository to hold the blob and the caller to be allowed to pull it. */
async function mountable(repos: Repositories, auth: Authorizer, c: Call, from: string, digest: Digest): Promise<boolean> {
  try {
    checkName(from);
    await auth.authorize(c.req.headers.authorization, c.realm, [{ type: 'repository', name: from, action: 'pull' }]);
  } catch {
    return false;
  }
  return (await repos.blob(from, digest)) !== undefined;
}

async function uploadStatus(uploads: Uploads, c: Call): Promise<void> {
  const offset = await uploads.offset(c.name, c.param);
  empty(c.res, 204, uploadHeaders(c.name, c.param, offset));
}

/** Checks a chunk's Content-Range against where the upload stands (416 if it does not start there). */
function checkChunk(req: Req, w: Writer): void {
  const h = req.headers['content-range'];
  if (h === undefined) return;
  const m = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(h.trim());
  if (!m) throw outOfOrder(w.written);
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = req.headers['content-length'];
  if (start !== w.written || end < start || (length !== undefined && Number(length) !== end - start + 1)) throw outOfOrder(w.written);
}

async function receive(req: Req, w: Writer): Promise<void> {
  for await (const chunk of req) await w.write(chunk as Buffer);
}

async function patchUpload(uploads: Uploads, c: Call): Promise<void> {
  const offset = await uploads.with(c.name, c.param, async (w) => {
    checkChunk(c.req, w);
    await receive(c.req, w);
    return w.written;
  });
  empty(c.res, 202, uploadHeaders(c.name, c.param, offset));
}

async function finishUpload(uploads: Uploads, c: Call): Promise<void> {
  const digest = checkDigest(c.query.get('digest'));
  const info = await uploads.with(c.name, c.param, async (w) => {
    checkChunk(c.req, w);
    await receive(c.req, w);
    return uploads.commit(c.name, c.param, w, digest);
  });
  empty(c.res, 201, { Location: `/v2/${c.name}/blobs/${info.digest}`, 'Docker-Content-Digest': info.digest });
}

async function cancelUpload(uploads: Uploads, c: Call): Promise<void> {
  await uploads.cancel(c.name, c.param);
  empty(c.res, 204);
}

function pageParams(q: URLSearchParams): { n?: number; last?: string } {
  const nRaw = q.get('n');
  if (nRaw !== null && !/^\d{1,6}$/.test(nRaw)) throw regErr('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: nRaw });
  return { n: nRaw === null ? undefined : Number(nRaw), last: q.get('last') ?? undefined };
}

function nextLink(res: Res, base: string, n: number | undefined, last: string | undefined, more: boolean): void {
  if (more && n !== undefined && last !== undefined) res.setHeader('Link', `<${base}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`);
}

async function listTags(repos: Repositories, c: Call): Promise<void> {
  const { n, last } = pageParams(c.query);
  const { items, more } = page(await repos.tags(c.name), n, last);
  nextLink(c.res, `/v2/${c.name}/tags/list`, n, items[items.length - 1], more);
  json(c.res, 200, { name: c.name, tags: items });
}

async function catalog(repos: Repositories, auth: Authorizer, account: string, q: URLSearchParams, res: Res): Promise<void> {
  const { n, last } = pageParams(q);
  const visible = (await repos.names()).filter((name) => auth.allowed(account, { type: 'repository', name, action: 'pull' }));
  const { items, more } = page(visible, n, last);
  nextLink(res, '/v2/_catalog', n, items[items.length - 1], more);
  json(res, 200, { repositories: items });
}

async function referrers(repos: Repositories, c: Call): Promise<void> {
  const artifactType = c.query.get('artifactType') ?? undefined;
  const manifests = await repos.referrers(c.name, checkDigest(c.param), artifactType);
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
  c.res.writeHead(200, { 'Content-Type': MediaType.OciIndex, 'Content-Length': body.length, ...(artifactType ? { 'OCI-Filters-Applied': 'artifactType' } : {}) });
  c.res.end(body);
}

async function token(auth: Authorizer, req: Req, res: Res, url: URL, realm: string): Promise<void> {
  let params = url.searchParams;
  let authorization = req.headers.authorization;
  if (req.method === 'POST') {
    // The OAuth2 password grant docker uses with identity tokens.
    params = new URLSearchParams((await readBody(req, 64 << 10)).toString('utf8'));
    const user = params.get('username');
    if (user !== null) authorization = 'Basic ' + Buffer.from(`${user}:${params.get('password') ?? ''}`).toString('base64');
  }
  if (auth.mode !== 'token') throw regErr('UNSUPPORTED', 'this registry does not issue tokens', undefined, 404);
  const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
  json(res, 200, await auth.issue(authorization, realm, scopes));
}
