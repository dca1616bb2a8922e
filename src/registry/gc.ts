import { BerthError, errorMessage } from '../base/errors';
import type { Digest } from '../oci/digest';
import { checkManifest } from './manifest-check';
import type { Repositories } from './repositories';
import type { Uploads } from './uploads';

export interface GcOptions {
  /** Blobs written or touched this recently are kept even when nothing references them: a push in progress sent them. */
  graceMs: number;
  /** Upload sessions older than this, with nobody sending, are dropped. */
  uploadTtlMs: number;
  /** Also delete manifests no tag reaches (through indexes or as referrers of what is kept). */
  deleteUntagged: boolean;
  dryRun: boolean;
}

export interface GcReport {
  blobs: number;
  bytes: number;
  manifests: number;
  links: number;
  uploads: number;
  /** Blobs nothing references that were kept as recent: touched within the grace or since the collection began (a push in flight). */
  recent: number;
  /** What could not be removed, and why (not counted above). */
  failed: string[];
}

/** The mark could not read a manifest: the blobs it needs are unknown, so nothing is deleted. */
export class UnreadableManifests extends BerthError {
  constructor(readonly manifests: string[]) {
    super('conflict', `garbage collection stopped before deleting anything: ${manifests.length} manifest(s) cannot be read, so the blobs they need are unknown: ${manifests.join('; ')} (delete them, or push them again)`);
  }
}

/**
 * Mark and sweep. The mark reads every repository's manifests without
 * stopping the server; the sweep holds the repositories' gate exclusive and
 * deletes only blobs last touched before the mark began (minus the grace), so
 * a blob that a push sent, mounted, checked or referenced since is spared.
 * A push whose blobs went before its manifest came may be refused
 * (MANIFEST_BLOB_UNKNOWN), never stored without them: the grace is what
 * keeps a push that takes less than it from being refused.
 */
export async function collectGarbage(repos: Repositories, uploads: Uploads, o: GcOptions): Promise<GcReport> {
  // Taken when no write is under way: a manifest whose blobs were touched before
  // `start` has its link written by then, so the mark sees it.
  const start = await repos.gate.exclusive(async () => Date.now());
  const report: GcReport = { blobs: 0, bytes: 0, manifests: 0, links: 0, uploads: 0, recent: 0, failed: [] };
  // Counted only when it is gone (or would be, in a dry run).
  const remove = async (what: string, count: () => void, fn: () => Promise<unknown>) => {
    try {
      if (!o.dryRun) await fn();
      count();
    } catch (e) {
      report.failed.push(`${what}: ${errorMessage(e)}`);
    }
  };
  const marked = new Set<Digest>();
  const names = await repos.names(true);
  // The mark reads everything first: a manifest it cannot read may need any blob, so then nothing is deleted.
  const unreadable: string[] = [];
  const byRepo = new Map<string, { all: Digest[]; parsed: Map<Digest, ReturnType<typeof checkManifest>> }>();
  for (const name of names) {
    const all = await repos.manifests(name);
    const parsed = new Map<Digest, ReturnType<typeof checkManifest>>();
    for (const d of all) {
      try {
        parsed.set(d, checkManifest(await repos.content.read(d), undefined));
      } catch (e) {
        unreadable.push(`${name}@${d}: ${errorMessage(e)}`);
      }
    }
    byRepo.set(name, { all, parsed });
  }
  if (unreadable.length) throw new UnreadableManifests(unreadable);
  for (const [name, { all, parsed }] of byRepo) {
    let keep = new Set(all);
    if (o.deleteUntagged) {
      keep = reachable(new Set((await repos.tagMap(name)).map(([, d]) => d)), parsed);
      for (const d of all) {
        if (!keep.has(d)) await remove(`manifest ${name}@${d}`, () => report.manifests++, () => repos.gate.shared(() => repos.deleteManifest(name, d)));
      }
    }
    for (const d of keep) {
      marked.add(d);
      parsed.get(d)?.blobs.forEach((b) => marked.add(b));
    }
  }
  const before = start - o.graceMs;
  await repos.gate.exclusive(async () => {
    for (const b of await repos.content.list()) {
      if (marked.has(b.digest)) continue;
      const touched = await repos.content.touched(b.digest);
      if (!touched) continue; // gone since the listing
      if (touched.getTime() >= before) {
        report.recent++;
        continue;
      }
      await remove(`blob ${b.digest}`, () => ((report.blobs++), (report.bytes += b.size)), () => repos.content.delete(b.digest));
    }
    for (const name of names) {
      for (const d of await repos.blobLinks(name)) {
        if (!(await repos.content.has(d))) await remove(`link ${name}/${d}`, () => report.links++, () => repos.unlinkBlob(name, d));
      }
    }
  });
  const sessions = new Set<string>();
  for (const name of names) {
    for (const u of await uploads.list(name)) {
      sessions.add(`up-${u.id}`);
      if (u.active || start - u.started.getTime() < o.uploadTtlMs) continue;
      await remove(`upload ${name}/${u.id}`, () => report.uploads++, () => uploads.purge(name, u.id));
    }
  }
  // Bytes of sessions whose record is gone (a crash as a session ended).
  for (const w of await repos.content.ingests()) {
    if (w.active || sessions.has(w.ref) || start - w.updated.getTime() < o.uploadTtlMs) continue;
    await remove(`upload bytes ${w.folder}`, () => report.uploads++, () => repos.content.removeIngestFolder(w.folder));
  }
  return report;
}

/** Manifests reachable from the tagged ones: an index's children, and referrers of what is kept. */
function reachable(tagged: Set<Digest>, parsed: Map<Digest, ReturnType<typeof checkManifest>>): Set<Digest> {
  const keep = new Set<Digest>();
  const queue = [...tagged].filter((d) => parsed.has(d));
  while (queue.length) {
    const d = queue.pop()!;
    if (keep.has(d)) continue;
    keep.add(d);
    for (const c of parsed.get(d)?.manifests ?? []) if (parsed.has(c)) queue.push(c);
    for (const [r, m] of parsed) if (m?.subject?.digest === d) queue.push(r);
  }
  return keep;
}
