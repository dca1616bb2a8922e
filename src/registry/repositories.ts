import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { atomicWrite, atomicWriteJson, mkdirp, readJsonIfExists, statIfExists } from '../base/files';
import { isErrno } from '../base/errors';
import { RwGate } from '../base/gate';
import type { BlobInfo, ContentStore } from '../content/store';
import { type Digest, isDigest, parseDigest } from '../oci/digest';
import type { Descriptor } from '../oci/image';
import { regErr } from './errors';
import { checkManifest, type CheckedManifest } from './manifest-check';
import { checkName, isTag } from './names';

/** What a repository knows of one of its manifests (`_manifests/<alg>/<hex>`). */
export interface ManifestLink {
  mediaType: string;
  size: number;
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * The repositories of a registry over its content store. A repository is a
 * folder `repositories/<name>/` holding links, never bytes: `_blobs/<alg>/<hex>`
 * (the blob is in this repository), `_manifests/<alg>/<hex>` (a manifest's
 * media type and size), `_tags/<tag>` (a digest), `_referrers/<subject>/<digest>`
 * (a manifest whose subject is that one). Names are checked against the spec's
 * grammar before they become paths, and its folders start with `_`, which no
 * name component may.
 *
 * Writers hold `gate` shared; the collector sweeps holding it exclusive, and
 * spares blobs touched after it began, so a push never loses a blob it just
 * checked or sent.
 */
export class Repositories {
  readonly gate = new RwGate();

  constructor(
    readonly root: string,
    readonly content: ContentStore,
  ) {}

  dir(name: string): string {
    return path.join(this.root, ...checkName(name).split('/'));
  }

  private link(name: string, kind: '_blobs' | '_manifests', digest: Digest): string {
    const { algorithm, hex } = parseDigest(digest);
    return path.join(this.dir(name), kind, algorithm, hex);
  }

  /** A repository exists once something was pushed to it (a folder of its own, not only a parent of others). */
  async exists(name: string): Promise<boolean> {
    return (await readdirOrEmpty(this.dir(name))).some((e) => e.startsWith('_'));
  }

  /** The blob, if this repository holds it. */
  async blob(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    if (!isDigest(digest)) throw regErr('DIGEST_INVALID', 'invalid digest', { digest });
    if (!(await fileExists(this.link(name, '_blobs', digest)))) return undefined;
    return this.content.info(digest);
  }

  async mustBlob(name: string, digest: Digest): Promise<BlobInfo> {
    const b = await this.blob(name, digest);
    if (!b) throw regErr('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    return b;
  }

  /** Records that the repository holds a blob the content store has; touches it for the collector. */
  async linkBlob(name: string, digest: Digest): Promise<void> {
    await this.content.touch(digest);
    const file = this.link(name, '_blobs', digest);
    if (await fileExists(file)) return;
    await mkdirp(path.dirname(file));
    await atomicWrite(file, '');
  }

  async unlinkBlob(name: string, digest: Digest): Promise<void> {
    if (!isDigest(digest)) throw regErr('DIGEST_INVALID', 'invalid digest', { digest });
    try {
      await fsp.unlink(this.link(name, '_blobs', digest));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw regErr('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
      throw e;
    }
  }

  /** Resolves a tag or digest to the manifest's digest and link. */
  async resolve(name: string, reference: string): Promise<{ digest: Digest; link: ManifestLink }> {
    let digest = reference;
    if (!isDigest(reference)) {
      // Not a tag nor a digest names nothing: 404, as the spec's endpoint table has it for GET and HEAD.
      if (!isTag(reference)) throw regErr('MANIFEST_UNKNOWN', 'manifest unknown: not a valid tag or digest', { reference });
      digest = (await fsp.readFile(path.join(this.dir(name), '_tags', reference), 'utf8').catch(() => '')).trim();
    }
    const link = digest ? await readJsonIfExists<ManifestLink>(this.link(name, '_manifests', digest)) : undefined;
    if (!link || !(await this.content.has(digest))) {
      throw regErr((await this.exists(name)) ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN', (await this.exists(name)) ? 'manifest unknown' : 'repository name not known to registry', { name, reference });
    }
    return { digest, link };
  }

  /**
   * Stores a manifest under a tag or its digest. Its blobs and child
   * manifests must be in this repository; nothing is written until all checks
   * pass. Returns its digest and what it is.
   */
  putManifest(name: string, reference: string, body: Buffer, contentType: string | undefined): Promise<{ digest: Digest; checked: CheckedManifest }> {
    checkName(name);
    const byDigest = isDigest(reference);
    if (!byDigest && !isTag(reference)) throw regErr('MANIFEST_INVALID', 'invalid tag', { tag: reference });
    const algorithm = byDigest ? parseDigest(reference).algorithm : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    if (byDigest && digest !== reference) throw regErr('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: reference, actual: digest });
    const checked = checkManifest(body, contentType);
    return this.gate.shared(async () => {
      for (const b of checked.blobs) {
        if (!(await this.blob(name, b))) throw regErr('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: b });
      }
      for (const m of checked.manifests) {
        if (!(await readJsonIfExists(this.link(name, '_manifests', m))) || !(await this.content.has(m)))
          throw regErr('MANIFEST_BLOB_UNKNOWN', 'manifest unknown to registry', { digest: m });
      }
      for (const d of [...checked.blobs, ...checked.manifests]) await this.content.touch(d);
      await this.content.ingest([body], { digest });
      // Touched by the clock the collector reads: a new file's time is the kernel's, up to a tick behind it,
      // and a blob that was there already (a manifest pushed again) keeps its old time.
      await this.content.touch(digest);
      const link: ManifestLink = {
        mediaType: checked.mediaType,
        size: body.length,
        ...(checked.subject ? { subject: checked.subject.digest } : {}),
        ...(checked.artifactType ? { artifactType: checked.artifactType } : {}),
        ...(checked.annotations ? { annotations: checked.annotations } : {}),
      };
      const file = this.link(name, '_manifests', digest);
      await mkdirp(path.dirname(file));
      await atomicWriteJson(file, link);
      if (checked.subject) {
        const ref = path.join(this.referrersDir(name, checked.subject.digest), digest.replace(':', '-'));
        await mkdirp(path.dirname(ref));
        await atomicWriteJson(ref, { mediaType: checked.mediaType, digest, size: body.length, artifactType: checked.artifactType, annotations: checked.annotations });
      }
      if (!byDigest) {
        await mkdirp(path.join(this.dir(name), '_tags'));
        await atomicWrite(path.join(this.dir(name), '_tags', reference), digest);
      }
      return { digest, checked };
    });
  }

  private referrersDir(name: string, subject: Digest): string {
    return path.join(this.dir(name), '_referrers', subject.replace(':', '-'));
  }

  /** Deletes a tag (the manifest stays), or a manifest with every tag that points at it. */
  async deleteManifest(name: string, reference: string): Promise<void> {
    const { digest, link } = await this.resolve(name, reference);
    if (!isDigest(reference)) {
      await fsp.unlink(path.join(this.dir(name), '_tags', reference));
      return;
    }
    for (const [tag, d] of await this.tagMap(name)) if (d === digest) await fsp.rm(path.join(this.dir(name), '_tags', tag), { force: true });
    await fsp.rm(this.link(name, '_manifests', digest), { force: true });
    if (link.subject) await fsp.rm(path.join(this.referrersDir(name, link.subject), digest.replace(':', '-')), { force: true });
  }

  async tags(name: string): Promise<string[]> {
    if (!(await this.exists(name))) throw regErr('NAME_UNKNOWN', 'repository name not known to registry', { name });
    return (await readdirOrEmpty(path.join(this.dir(name), '_tags'))).filter(isTag).sort();
  }

  async tagMap(name: string): Promise<[string, Digest][]> {
    const out: [string, Digest][] = [];
    for (const t of await this.tags(name)) {
      const d = (await fsp.readFile(path.join(this.dir(name), '_tags', t), 'utf8').catch(() => '')).trim();
      if (d) out.push([t, d]);
    }
    return out;
  }

  /** Manifests whose subject is `digest`, optionally of one artifact type. */
  async referrers(name: string, digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    if (!isDigest(digest)) throw regErr('DIGEST_INVALID', 'invalid digest', { digest });
    checkName(name);
    const dir = this.referrersDir(name, digest);
    const out: Descriptor[] = [];
    for (const f of (await readdirOrEmpty(dir)).sort()) {
      const d = await readJsonIfExists<Descriptor & { artifactType?: string }>(path.join(dir, f));
      if (d && (!artifactType || d.artifactType === artifactType)) out.push(d);
    }
    return out;
  }

  /** Repository names in lexical order: those with manifests, or with anything at all (`all`). */
  async names(all = false): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string) => {
      const entries = await fsp.readdir(dir, { withFileTypes: true }).catch((e) => (isErrno(e, 'ENOENT') ? [] : Promise.reject(e)));
      if (prefix && entries.some((e) => (all ? e.name.startsWith('_') : e.name === '_manifests'))) out.push(prefix);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(path.join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
    };
    await walk(this.root, '');
    return out.sort();
  }

  /** Every manifest of a repository. */
  manifests(name: string): Promise<Digest[]> {
    return this.linked(name, '_manifests');
  }

  /** Every blob link of a repository. */
  blobLinks(name: string): Promise<Digest[]> {
    return this.linked(name, '_blobs');
  }

  private async linked(name: string, kind: '_blobs' | '_manifests'): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const algorithm of ['sha256', 'sha512']) {
      for (const hex of await readdirOrEmpty(path.join(this.dir(name), kind, algorithm))) {
        if (isDigest(`${algorithm}:${hex}`)) out.push(`${algorithm}:${hex}`);
      }
    }
    return out;
  }
}

async function fileExists(p: string): Promise<boolean> {
  return (await statIfExists(p)) !== undefined;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch((e) => {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return [];
    throw e;
  });
}

/** A page of a sorted list after `last`, at most `n` long (`n` absent: all). */
export function page<T extends string>(all: T[], n: number | undefined, last: string | undefined): { items: T[]; more: boolean } {
  const from = last === undefined ? all : all.filter((x) => x > last);
  if (n === undefined) return { items: from, more: false };
  return { items: from.slice(0, n), more: from.length > n };
}
