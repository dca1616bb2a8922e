import * as path from 'node:path';
import { errorMessage, invalidArgument, notFound } from '../../base/errors';
import type { Logger } from '../../base/log';
import { readRegistryTls } from '../../distribution/certs';
import { type Credentials, RegistryClient, RegistryUploader, registryHost, type SearchResult, serverDomain } from '../../distribution/client';
import { isInsecure } from '../../distribution/insecure';
import { choosePlatform, parsePlatform } from '../../distribution/platform';
import { type BlobFetcher, type PullEvent, pullImage } from '../../images/pull';
import { type BlobSink, pushImage } from '../../images/push';
import type { ImageRecord, ImageStore } from '../../images/store';
import { type Index, type Manifest, hostPlatform, MediaType } from '../../oci/image';
import { familiarRepository, familiarString, formatReference, parseReference, repositoryName } from '../../oci/reference';
import type { EventBus } from '../system/events';

export type { BlobFetcher };
import type { DiskGuard } from '../system/disk-guard';

export { type Credentials, type PullEvent, serverDomain };

export interface PullRequest {
  reference: string;
  platform?: string;
  credentials?: Credentials;
  onProgress?: (e: PullEvent) => void;
  signal?: AbortSignal;
}

/** Where a pull's blobs come from first (a cluster's nodes), given the registry's source to fall back to. */
export type BlobSourcing = (registry: BlobFetcher) => BlobFetcher;

/** How the daemon speaks to registries. */
export interface RegistrySettings {
  /** Spoken to over plain HTTP (or unverified TLS) besides loopback ones: host, host:port or CIDR. */
  insecure: string[];
  /** docker's /etc/docker/certs.d: `<host[:port]>/ca.crt`, `client.cert`, `client.key`. */
  certsDir: string;
}

const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);

/** Pull, push and login against registries (docker's pull, push, login; POST /images/create, /images/{name}/push, /auth). */
export class Registries {
  /** Set while this node is in a cluster: every pull (a task's, a prefetch, docker pull) asks its peers first. */
  private sourcing?: BlobSourcing;

  constructor(
    private readonly store: ImageStore,
    private readonly events: EventBus,
    private readonly settings: RegistrySettings,
    private readonly disk?: DiskGuard,
    private readonly logger?: Logger,
  ) {}

  /** Pulls take their blobs from `s` (undefined: from the registry alone). */
  useBlobSource(s: BlobSourcing | undefined): void {
    this.sourcing = s;
  }

  client(domain: string, credentials?: Credentials): RegistryClient {
    const host = registryHost(domain);
    return new RegistryClient(host, {
      insecure: isInsecure(domain, this.settings.insecure),
      tls: readRegistryTls(this.settings.certsDir, host),
      certsFolder: path.join(this.settings.certsDir, host),
      credentials,
      userAgent: 'berth/0.1',
    });
  }

  /** docker's POST /auth: the registry accepts these credentials. */
  async login(server: string, credentials: Credentials): Promise<void> {
    const client = this.client(serverDomain(server), credentials);
    try {
      await client.login();
    } finally {
      client.close();
    }
  }

  /** docker's push: the image named `reference` (tag: latest when none) to its registry. */
  async push(reference: string, o: { credentials?: Credentials; onProgress?: (e: PullEvent) => void } = {}): Promise<{ digest: string }> {
    const ref = parseReference(reference);
    if (ref.digest) throw invalidArgument(`cannot push a digest reference: ${reference}`);
    const rec = await this.store.resolve(formatReference(ref));
    const client = this.client(ref.domain, o.credentials);
    try {
      const up = new RegistryUploader(client, ref.path);
      o.onProgress?.({ status: `The push refers to repository [${familiarRepository(ref)}]` });
      const sink: BlobSink = {
        repository: repositoryName(ref),
        has: (d) => up.has(d),
        mount: async (d, from) => (await up.start({ digest: d, from })).mounted,
        put: async (d, size, body) => {
          const s = await up.start();
          if (s.mounted) return;
          await up.put(s.location, d, size, body);
        },
        stream: async (body, digestAtEnd) => {
          const s = await up.start();
          if (!s.mounted) await up.stream(s.location, body, digestAtEnd);
        },
        putManifest: (tag, mediaType, body) => up.putManifest(tag, mediaType, body),
      };
      const { digest } = await pushImage(this.store, sink, rec, { tag: ref.tag!, onProgress: o.onProgress });
      await this.store.addRepoDigest(rec.id, `${repositoryName(ref)}@${digest}`);
      this.events.publish('image', 'push', familiarString(ref), { name: familiarString(ref) });
      return { digest };
    } finally {
      client.close();
    }
  }

  /**
   * docker's `push -a` (a name without tag): every tag of the repository
   * here, one after another, told as one push; `onPushed` hears each tag's
   * digest as it lands.
   */
  async pushAllTags(repository: string, o: { credentials?: Credentials; onProgress?: (e: PullEvent) => void; onPushed?: (tag: string, digest: string) => void } = {}): Promise<void> {
    const ref = parseReference(repository, { defaultTag: false });
    if (ref.tag || ref.digest) throw invalidArgument(`${repository}: a repository without tag or digest pushes all its tags`);
    const tags = this.store.tagsIn(repositoryName(ref));
    if (!tags.length) throw notFound(`An image does not exist locally with the tag: ${familiarRepository(ref)}`);
    let told = false;
    const onProgress = (e: PullEvent) => {
      if (e.status.startsWith('The push refers to repository')) {
        if (told) return;
        told = true;
      }
      o.onProgress?.(e);
    };
    for (const tag of tags) {
      const { digest } = await this.push(formatReference({ ...ref, tag }), { credentials: o.credentials, onProgress });
      o.onPushed?.(tag, digest);
    }
  }

  /**
   * docker's `pull -a` (a name without tag): every tag the registry lists,
   * one after another, with one closing status line as docker's.
   */
  async pullAllTags(r: PullRequest): Promise<void> {
    const ref = parseReference(r.reference, { defaultTag: false });
    if (ref.tag || ref.digest) throw invalidArgument(`${r.reference}: a repository without tag or digest pulls all its tags`);
    const client = this.client(ref.domain, r.credentials);
    let tags: string[];
    try {
      tags = await client.tags(ref.path);
    } finally {
      client.close();
    }
    if (!tags.length) throw notFound(`${familiarRepository(ref)}: the registry lists no tags`);
    let newer = false;
    const onProgress = (e: PullEvent) => {
      if (!e.status.startsWith('Status: ')) return r.onProgress?.(e);
      newer ||= e.status.startsWith('Status: Downloaded newer');
    };
    for (const tag of tags) {
      if (r.signal?.aborted) throw r.signal.reason;
      await this.pull({ ...r, reference: formatReference({ ...ref, tag }), onProgress });
    }
    r.onProgress?.({ status: `Status: ${newer ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarRepository(ref)}` });
  }

  /**
   * `image prefetch`: a pull ahead of a deploy, told as one summary instead
   * of a progress stream: the layers fetched and found, the bytes moved.
   */
  async prefetch(r: Omit<PullRequest, 'onProgress'>): Promise<{ Id: string; Digest: string; LayersFetched: number; LayersPresent: number; Bytes: number; Seconds: number }> {
    const t0 = performance.now();
    const bytes = new Map<string, number>();
    let fetched = 0;
    let present = 0;
    const { image, digest } = await this.pull({
      ...r,
      onProgress: (e) => {
        if (e.id && e.current !== undefined) bytes.set(e.id, e.current);
        if (e.status === 'Pull complete') fetched++;
        if (e.status === 'Already exists') present++;
      },
    });
    const total = [...bytes.values()].reduce((a, b) => a + b, 0);
    return { Id: image.id, Digest: digest, LayersFetched: fetched, LayersPresent: present, Bytes: total, Seconds: Math.round(performance.now() - t0) / 1000 };
  }

  /**
   * docker's GET /distribution/{name}/json: what the registry holds under a
   * name (its top manifest's descriptor) and the platforms it serves, read
   * from an index's entries or a single manifest's config. Nothing is stored.
   */
  async inspectRemote(reference: string, credentials?: Credentials): Promise<{ Descriptor: { mediaType: string; digest: string; size: number }; Platforms: Record<string, string>[] }> {
    const ref = parseReference(reference);
    const client = this.client(ref.domain, credentials);
    try {
      return await describeRemote(client, ref.path, ref.digest ?? ref.tag!);
    } finally {
      client.close();
    }
  }

  /**
   * docker's search (GET /images/search): the term's registry (its first
   * part when that names a host, else Docker Hub) is asked through docker's
   * search API where it has one; a registry without one (distribution, Berth's,
   * most private ones) has its catalog searched by name instead, the names
   * given in full so they pull as they read.
   */
  async search(term: string, o: { limit?: number; credentials?: Credentials; filters?: Record<string, string[]> } = {}): Promise<SearchResult[]> {
    const limit = o.limit ?? 25;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidArgument(`Limit ${o.limit} is outside the range of [1, 100]`);
    const slash = term.indexOf('/');
    const first = slash < 0 ? '' : term.slice(0, slash);
    const named = first === 'localhost' || first.includes('.') || first.includes(':');
    const domain = named ? first : 'docker.io';
    const text = named ? term.slice(slash + 1) : term;
    const stars = Number(o.filters?.stars?.[0] ?? 0);
    const want = (k: 'is-official' | 'is-automated') => (o.filters?.[k]?.length ? o.filters[k][0] === 'true' : undefined);
    for (const k of Object.keys(o.filters ?? {})) if (!['stars', 'is-official', 'is-automated'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    if (Number.isNaN(stars)) throw invalidArgument(`invalid filter 'stars=${o.filters?.stars?.[0]}'`);
    const client = this.client(domain === 'docker.io' ? 'index.docker.io' : domain, o.credentials);
    try {
      let results = await client.searchV1(text, limit);
      if (!results) {
        const needle = text.toLowerCase();
        results = (await client.catalog())
          .filter((r) => r.toLowerCase().includes(needle))
          .map((r) => ({ name: `${domain}/${r}`, description: '', star_count: 0, is_official: false, is_automated: false }));
      }
      const official = want('is-official');
      const automated = want('is-automated');
      return results.filter((r) => r.star_count >= stars && (official === undefined || r.is_official === official) && (automated === undefined || r.is_automated === automated)).slice(0, limit);
    } finally {
      client.close();
    }
  }

  async pull(r: PullRequest): Promise<{ image: ImageRecord; digest: string; name: string }> {
    const ref = parseReference(r.reference);
    await this.disk?.ensureRoom('pull');
    const want = r.platform ? parsePlatform(r.platform) : hostPlatform();
    const client = this.client(ref.domain, r.credentials);
    try {
      const progress = r.onProgress ?? (() => {});
      const top = await client.manifest(ref.path, ref.digest ?? ref.tag!);
      // After the manifest, as docker: a refusal before it is the answer's status.
      progress({ id: ref.digest ?? ref.tag, status: `Pulling from ${familiarRepository(ref)}` });
      let manifest = top;
      if (INDEX_TYPES.has(top.mediaType)) {
        const chosen = choosePlatform(JSON.parse(top.body.toString('utf8')) as Index, want);
        manifest = await client.manifest(ref.path, chosen.digest);
        // Kept for save and push to send the same index; a pull goes on without it, and says so in the log.
        await this.store.content.ingest([top.body], { digest: top.digest }).catch((e) => this.logger?.warn('the index of a pulled image is not kept', { reference: r.reference, error: errorMessage(e) }));
      }
      const repoDigest = `${repositoryName(ref)}@${top.digest}`;
      const names = ref.tag ? [formatReference({ ...ref, digest: undefined })] : [];
      const existed = await this.store.get(JSON.parse(manifest.body.toString('utf8')).config?.digest ?? '');
      const registry: BlobFetcher = { fetch: (digest, offset) => client.blob(ref.path, digest, offset) };
      const image = await pullImage(
        this.store,
        this.sourcing ? this.sourcing(registry) : registry,
        manifest.digest,
        manifest.body,
        {
          names,
          repoDigest,
          onProgress: r.onProgress,
          signal: r.signal,
          accept: (cfg) => {
            if (r.platform && (cfg.os !== want.os || cfg.architecture !== want.architecture))
              throw invalidArgument(`image ${r.reference} is for ${cfg.os}/${cfg.architecture}, not the platform asked for (${r.platform})`);
          },
        },
      );
      const pulled = JSON.parse(manifest.body.toString('utf8')) as Manifest;
      await this.store.distribution.rememberRepo([...pulled.layers.map((l) => l.digest), pulled.config.digest], repositoryName(ref));
      progress({ status: `Digest: ${top.digest}` });
      progress({ status: existed ? `Status: Image is up to date for ${familiarString(ref)}` : `Status: Downloaded newer image for ${familiarString(ref)}` });
      this.events.publish('image', 'pull', familiarString(ref), { name: familiarString(ref) });
      return { image, digest: top.digest, name: formatReference(ref) };
    } finally {
      client.close();
    }
  }
}

/** docker's distribution inspect: the manifest's descriptor and the platforms it serves. */
async function describeRemote(client: RegistryClient, repo: string, reference: string): Promise<{ Descriptor: { mediaType: string; digest: string; size: number }; Platforms: Record<string, string>[] }> {
  const top = await client.manifest(repo, reference);
  const body = JSON.parse(top.body.toString('utf8'));
  let platforms: Record<string, string>[];
  if (INDEX_TYPES.has(top.mediaType)) {
    platforms = ((body as Index).manifests ?? []).flatMap((m) => (m.platform ? [{ architecture: m.platform.architecture, os: m.platform.os, ...(m.platform.variant ? { variant: m.platform.variant } : {}) }] : []));
  } else {
    const { stream } = await client.blob(repo, body.config.digest);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    platforms = [{ architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) }];
  }
  return { Descriptor: { mediaType: top.mediaType, digest: top.digest, size: top.body.length }, Platforms: platforms };
}
