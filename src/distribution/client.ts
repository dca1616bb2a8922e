import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import * as tls from 'node:tls';
import { BerthError, errorMessage, invalidArgument, notFound, unauthorized, unavailable } from '../base/errors';
import { type Digest, isDigest, sha256 } from '../oci/digest';
import { MediaType } from '../oci/image';
import type { RegistryTls } from './certs';

/** What docker's X-Registry-Auth and config.json carry for one registry. */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token from an earlier login. */
  identitytoken?: string;
  /** A bearer token to use as is. */
  registrytoken?: string;
}

/** One result of docker's image search. */
export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface ClientOptions {
  credentials?: Credentials;
  /** Plain HTTP (and unverified TLS) allowed: docker's insecure-registries. */
  insecure: boolean;
  /** The registry's certs.d: TLS verified with these roots (and this client certificate), HTTPS only, even when insecure. */
  tls?: RegistryTls;
  /** Where the registry's certs.d folder would be, named in TLS errors. */
  certsFolder?: string;
  userAgent?: string;
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

export const MANIFEST_ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

/** A server as docker names it in config.json or /auth (`https://index.docker.io/v1/`, `host:port`), as a reference's domain. */
export function serverDomain(server: string): string {
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' ? 'docker.io' : host;
}

/** docker.io's registry is not at docker.io. */
export function registryHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** Parses a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(h: string | undefined): Challenge | undefined {
  if (!h) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1].toLowerCase()] = p[2] ?? p[3];
  return { scheme, params };
}

/**
 * One registry, spoken to as docker does: HTTPS, or for an insecure
 * registry HTTPS without verification falling back to HTTP; the base
 * endpoint's challenge decides between basic credentials and bearer tokens,
 * fetched from the realm per scope (with the credentials, or anonymously)
 * and asked again when a request is refused for its scope.
 */
export class RegistryClient {
  private base?: string;
  private challenge?: Challenge;
  private readonly tokens = new Map<string, string>();
  private readonly agent: { http: http.Agent; https: https.Agent };

  constructor(
    readonly host: string,
    private readonly o: ClientOptions,
  ) {
    const t = o.tls;
    const tlsOptions: https.AgentOptions = t ? { ca: [...tls.rootCertificates, ...t.ca], cert: t.cert, key: t.key, rejectUnauthorized: true } : { rejectUnauthorized: !o.insecure };
    this.agent = { http: new http.Agent({ keepAlive: true, maxSockets: 8 }), https: new https.Agent({ keepAlive: true, maxSockets: 8, ...tlsOptions }) };
  }

  close(): void {
    this.agent.http.destroy();
    this.agent.https.destroy();
  }

  /** Finds the scheme and the auth challenge (GET /v2/); once. */
  async ping(): Promise<void> {
    if (this.base) return;
    const schemes = this.o.insecure && !this.o.tls ? ['https', 'http'] : ['https'];
    let last: unknown;
    for (const scheme of schemes) {
      try {
        const res = await this.raw('GET', `${scheme}://${this.host}/v2/`, {});
        res.resume();
        if (res.statusCode === 401) this.challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
        else if (res.statusCode !== 200) throw unavailable(`registry ${this.host}: /v2/ answered ${res.statusCode}`);
        this.base = `${scheme}://${this.host}`;
        return;
      } catch (e) {
        last = e;
      }
    }
    throw unavailable(`registry ${this.host} cannot be reached: ${errorMessage(last)}${this.hint(last)}`);
  }

  /** What the user can do about a failed handshake. */
  private hint(e: unknown): string {
    const text = `${(e as NodeJS.ErrnoException)?.code} ${errorMessage(e)}`;
    const folder = this.o.tls?.folder ?? this.o.certsFolder;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(text) && !/CERTIFICATE_REQUIRED/.test(text)) {
      return folder ? ` (to trust the registry's certificate, place its CA at ${folder}/ca.crt${this.o.tls ? '' : ", or list the registry in the daemon's insecure-registries"})` : '';
    }
    if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ECONNRESET/.test(text) && folder) return ` (if the registry asks for a client certificate, place it at ${folder}/client.cert with its key at ${folder}/client.key)`;
    // A TLS handshake that fails on the protocol is an HTTP registry, which must be named insecure.
    if (/EPROTO|wrong version number|SSL/i.test(text)) {
      if (this.o.tls) return ` (the registry speaks plain HTTP, yet ${this.o.tls.folder} asks for TLS)`;
      if (!this.o.insecure) return " (an HTTP registry must be listed in the daemon's insecure-registries)";
    }
    return '';
  }

  private raw(method: string, url: string, o: { headers?: Record<string, string | number>; body?: Buffer | Readable }): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(u, { method, agent: u.protocol === 'https:' ? this.agent.https : this.agent.http, headers: { 'User-Agent': this.o.userAgent ?? 'berth', ...o.headers } }, resolve);
      req.on('error', reject);
      if (o.body && typeof (o.body as Readable).pipe === 'function') {
        (o.body as Readable).on('error', (e) => req.destroy(e));
        (o.body as Readable).pipe(req);
      } else req.end(o.body);
    });
  }

  /** Basic credentials as a header value, if there are any. */
  private basic(): string | undefined {
    const c = this.o.credentials;
    if (c?.username === undefined || c.password === undefined) return undefined;
    return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
  }

  private async token(scope: string, asked?: Challenge): Promise<string | undefined> {
    if (this.o.credentials?.registrytoken) return this.o.credentials.registrytoken;
    const cached = this.tokens.get(scope);
    if (cached && !asked) return cached;
    const ch = asked ?? this.challenge;
    const realm = ch?.params.realm;
    if (!realm) throw unauthorized(`registry ${this.host} asks for a token without a realm`);
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of (asked?.params.scope ?? scope).split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const auth = this.basic();
    const res = await this.raw('GET', url.toString(), { headers: auth ? { Authorization: auth } : {} });
    const body = await readAll(res, 1 << 20);
    if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(`${this.host}: unauthorized: ${errorText(body) || 'incorrect username or password'}`);
    if (res.statusCode !== 200) throw unavailable(`${this.host}: token endpoint answered ${res.statusCode}: ${errorText(body)}`);
    const parsed = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string };
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw unavailable(`${this.host}: the token endpoint gave no token`);
    this.tokens.set(scope, token);
    return token;
  }

  private async authorization(scope: string, asked?: Challenge): Promise<string | undefined> {
    if (!this.challenge && !asked) return undefined;
    if ((asked ?? this.challenge)!.scheme === 'basic') return this.basic();
    const t = await this.token(scope, asked);
    return t && `Bearer ${t}`;
  }

  /**
   * A request to the registry for `scope` (e.g. `repository:library/busybox:pull`).
   * A 401 is answered once by fetching a token for what the challenge asks
   * (not for a streamed body, which cannot be sent twice). Redirects of reads
   * are followed, without credentials when they leave the registry's host.
   */
  async request(method: string, path: string, o: { scope: string; headers?: Record<string, string | number>; body?: Buffer | Readable }): Promise<http.IncomingMessage> {
    await this.ping();
    let auth = await this.authorization(o.scope);
    let url = path.startsWith('http') ? path : `${this.base}${path}`;
    for (let attempt = 0; ; attempt++) {
      const sameHost = new URL(url).host === this.host;
      const res = await this.raw(method, url, { headers: { ...(auth && sameHost ? { Authorization: auth } : {}), ...o.headers }, body: o.body });
      const retryable = !o.body || Buffer.isBuffer(o.body);
      if (res.statusCode === 401 && attempt === 0 && retryable) {
        const asked = parseChallenge(res.headers['www-authenticate'] as string | undefined);
        res.resume();
        if (!asked) throw unauthorized(`${this.host}: unauthorized`);
        if (!this.challenge) this.challenge = asked;
        auth = await this.authorization(o.scope, asked);
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(res.statusCode!) && (method === 'GET' || method === 'HEAD') && attempt < 5 && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      return res;
    }
  }

  /** The base URL requests go to (for resolving Location headers). */
  resolve(location: string): string {
    return new URL(location, this.base).toString();
  }

  /**
   * Checks the credentials as docker's login does: a registry that asks for
   * none accepts any; basic ones must open /v2/; for tokens, the realm must
   * grant one to them.
   */
  async login(): Promise<void> {
    await this.ping();
    if (!this.challenge) return;
    if (this.challenge.scheme === 'basic') {
      const res = await this.raw('GET', `${this.base}/v2/`, { headers: { Authorization: this.basic() ?? '' } });
      res.resume();
      if (res.statusCode !== 200) throw unauthorized(`login attempt to ${this.base}/v2/ failed with status: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      return;
    }
    await this.token('');
  }

  async manifest(repo: string, reference: string): Promise<{ digest: Digest; mediaType: string; body: Buffer }> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${reference}`, { scope: `repository:${repo}:pull`, headers: { Accept: MANIFEST_ACCEPT } });
    const body = await readAll(res, 4 << 20);
    if (res.statusCode !== 200) throw failure(this.host, repo, res.statusCode!, body, 'manifest');
    const digest = reference.startsWith('sha512:') ? `sha512:${createHash('sha512').update(body).digest('hex')}` : sha256(body);
    if (isDigest(reference) && digest !== reference) throw invalidArgument(`${this.host}/${repo}: manifest ${reference} arrived with digest ${digest}`);
    const mediaType = (res.headers['content-type'] ?? '').split(';')[0].trim() || JSON.parse(body.toString('utf8')).mediaType;
    return { digest, mediaType, body };
  }

  /** Every tag of a repository, following the `Link: <...>; rel="next"` pages. */
  async tags(repo: string): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = `/v2/${repo}/tags/list`;
    for (let page = 0; next && page < 10_000; page++) {
      const res = await this.request('GET', next, { scope: `repository:${repo}:pull` });
      const body = await readAll(res, 16 << 20);
      if (res.statusCode !== 200) throw failure(this.host, repo, res.statusCode!, body, 'repository');
      out.push(...((JSON.parse(body.toString('utf8')) as { tags?: string[] | null }).tags ?? []));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link ? this.resolve(link[1]) : undefined;
    }
    return out;
  }

  /** The registry's repositories (`GET /v2/_catalog`), following its pages, up to `max` names. */
  async catalog(max = 10_000): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = '/v2/_catalog?n=1000';
    while (next && out.length < max) {
      const res = await this.request('GET', next, { scope: 'registry:catalog:*' });
      const body = await readAll(res, 16 << 20);
      if (res.statusCode !== 200) throw failure(this.host, '_catalog', res.statusCode!, body, 'catalog');
      out.push(...((JSON.parse(body.toString('utf8')) as { repositories?: string[] | null }).repositories ?? []));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link ? this.resolve(link[1]) : undefined;
    }
    return out.slice(0, max);
  }

  /** docker's search API (`GET /v1/search`), where a registry has one (Docker Hub's index); undefined where it has none. */
  async searchV1(term: string, limit: number): Promise<SearchResult[] | undefined> {
    const res = await this.request('GET', `/v1/search?q=${encodeURIComponent(term)}&n=${limit}`, { scope: '' });
    const body = await readAll(res, 16 << 20);
    if (res.statusCode === 404 || res.statusCode === 405) return undefined;
    if (res.statusCode !== 200) throw failure(this.host, 'v1/search', res.statusCode!, body, 'search');
    return (JSON.parse(body.toString('utf8')) as { results?: SearchResult[] | null }).results ?? [];
  }

  /** A blob's bytes from `offset` on (a resumed download). */
  async blob(repo: string, digest: Digest, offset = 0): Promise<{ stream: Readable; total?: number; offset: number }> {
    const res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, { scope: `repository:${repo}:pull`, headers: offset ? { Range: `bytes=${offset}-` } : {} });
    if (res.statusCode === 200) return { stream: res, total: Number(res.headers['content-length']) || undefined, offset: 0 };
    if (res.statusCode === 206) return { stream: res, total: offset + Number(res.headers['content-length']), offset };
    throw failure(this.host, repo, res.statusCode!, await readAll(res, 1 << 20), 'blob');
  }

  async hasBlob(repo: string, digest: Digest, scope = `repository:${repo}:pull`): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scope });
    res.resume();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw failure(this.host, repo, res.statusCode!, Buffer.alloc(0), 'blob');
  }
}

export type UploadStart = { mounted: true } | { mounted: false; location: string };

/** The push side: HEAD, mounts, uploads (monolithic or streamed), manifests. */
export class RegistryUploader {
  constructor(
    private readonly client: RegistryClient,
    readonly repo: string,
  ) {}

  private get scope() {
    return `repository:${this.repo}:pull,push`;
  }

  has(digest: Digest): Promise<boolean> {
    return this.client.hasBlob(this.repo, digest, this.scope);
  }

  /** Starts an upload, or mounts the blob from `from` (another repository of this registry) if the registry will. */
  async start(mount?: { digest: Digest; from: string }): Promise<UploadStart> {
    const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    const scope = mount ? `${this.scope} repository:${mount.from}:pull` : this.scope;
    const res = await this.client.request('POST', `/v2/${this.repo}/blobs/uploads/${q}`, { scope, headers: { 'Content-Length': 0 }, body: Buffer.alloc(0) });
    const body = await readAll(res, 1 << 20);
    if (res.statusCode === 201 && mount) return { mounted: true };
    if (res.statusCode !== 202 || !res.headers.location) throw failure(this.client.host, this.repo, res.statusCode!, body, 'upload');
    return { mounted: false, location: this.client.resolve(res.headers.location) };
  }

  /** Sends a blob whose digest and size are known in one PUT. */
  async put(location: string, digest: Digest, size: number, body: Readable): Promise<void> {
    const res = await this.client.request('PUT', withQuery(location, 'digest', digest), {
      scope: this.scope,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size },
      body,
    });
    const text = await readAll(res, 1 << 20);
    if (res.statusCode !== 201) throw failure(this.client.host, this.repo, res.statusCode!, text, 'blob upload');
  }

  /** Streams a blob whose digest is known only at its end (a layer compressed as it goes): PATCH, then PUT with the digest. */
  async stream(location: string, body: Readable, digestAtEnd: () => Digest): Promise<void> {
    const res = await this.client.request('PATCH', location, { scope: this.scope, headers: { 'Content-Type': 'application/octet-stream' }, body });
    const text = await readAll(res, 1 << 20);
    if (res.statusCode !== 202 && res.statusCode !== 204) throw failure(this.client.host, this.repo, res.statusCode!, text, 'blob upload');
    const next = res.headers.location ? this.client.resolve(res.headers.location) : location;
    const done = await this.client.request('PUT', withQuery(next, 'digest', digestAtEnd()), { scope: this.scope, headers: { 'Content-Length': 0 }, body: Buffer.alloc(0) });
    const doneText = await readAll(done, 1 << 20);
    if (done.statusCode !== 201) throw failure(this.client.host, this.repo, done.statusCode!, doneText, 'blob upload');
  }

  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<void> {
    const res = await this.client.request('PUT', `/v2/${this.repo}/manifests/${reference}`, { scope: this.scope, headers: { 'Content-Type': mediaType, 'Content-Length': body.length }, body });
    const text = await readAll(res, 1 << 20);
    if (res.statusCode !== 201) throw failure(this.client.host, this.repo, res.statusCode!, text, 'manifest upload');
  }
}

function withQuery(location: string, key: string, value: string): string {
  const u = new URL(location);
  u.searchParams.append(key, value);
  return u.toString();
}

async function readAll(res: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > max) throw unavailable(`registry response larger than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function errorText(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8'));
    if (Array.isArray(j.errors)) return j.errors.map((e: { code?: string; message?: string }) => `${(e.code ?? '').toLowerCase()}: ${e.message ?? ''}`.trim()).join('; ');
    return String(j.details ?? j.message ?? '');
  } catch {
    return body.toString('utf8').slice(0, 200);
  }
}

/** A registry's refusal as a domain error, worded as docker words it. */
export function failure(host: string, repo: string, status: number, body: Buffer, what: string): BerthError {
  const text = errorText(body);
  if ((status === 401 || status === 403) && !['manifest', 'blob', 'repository'].includes(what)) return unauthorized(`${host}/${repo}: ${text || 'requested access to the resource is denied'}`);
  if (status === 401 || status === 403) return unauthorized(`pull access denied for ${host}/${repo}, repository does not exist or may require 'docker login': ${text || 'denied'}`);
  if (status === 404) return notFound(`${what} unknown: ${host}/${repo}: ${text || 'not found'}`);
  if (status >= 400 && status < 500) return invalidArgument(`${host}/${repo}: ${text || `status ${status}`}`);
  return unavailable(`${host}/${repo}: the registry answered ${status}${text ? `: ${text}` : ''}`);
}
