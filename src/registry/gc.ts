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
  const report: GcReport = { blobs: 0, bytes: 0, manifests: 0, links: 0, uploads: 0 };
  const marked = new Set<Digest>();
  const names = await repos.names(true);
  for (const name of names) {
    const all = await repos.manifests(name);
    const parsed = new Map<Digest, ReturnType<typeof checkManifest> | undefined>();
    for (const d of all) {
      const body = await repos.content.read(d).catch(() => undefined);
      parsed.set(d, body && safeCheck(body));
    }
    let keep = new Set(all);
    if (o.deleteUntagged) {
      keep = reachable(new Set((await repos.tagMap(name)).map(([, d]) => d)), parsed);
      for (const d of all) {
        if (keep.has(d)) continue;
        report.manifests++;
        if (!o.dryRun) await repos.gate.shared(() => repos.deleteManifest(name, d)).catch(() => {});
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
      if (!touched || touched.getTime() >= before) continue;
      report.blobs++;
      report.bytes += b.size;
      if (!o.dryRun) await repos.content.delete(b.digest);
    }
    for (const name of names) {
      for (const d of await repos.blobLinks(name)) {
        if (await repos.content.has(d)) continue;
        report.links++;
        if (!o.dryRun) await repos.unlinkBlob(name, d).catch(() => {});
      }
    }
  });
  const sessions = new Set<string>();
  for (const name of names) {
    for (const u of await uploads.list(name)) {
      sessions.add(`up-${u.id}`);
      if (u.active || start - u.started.getTime() < o.uploadTtlMs) continue;
      report.uploads++;
      if (!o.dryRun) await uploads.purge(name, u.id);
    }
  }
  // Bytes of sessions whose record is gone (a crash as a session ended).
  for (const w of await repos.content.ingests()) {
    if (w.active || sessions.has(w.ref) || start - w.updated.getTime() < o.uploadTtlMs) continue;
    report.uploads++;
    if (!o.dryRun) await repos.content.removeIngestFolder(w.folder).catch(() => {});
  }
  return report;
}

function safeCheck(body: Buffer) {
  try {
    return checkManifest(body, undefined);
  } catch {
    return undefined;
  }
}

/** Manifests reachable from the tagged ones: an index's children, and referrers of what is kept. */
function reachable(tagged: Set<Digest>, parsed: Map<Digest, ReturnType<typeof checkManifest> | undefined>): Set<Digest> {
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
