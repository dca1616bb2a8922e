import { atomicWriteJson, readJsonIfExists } from '../base/files';
import type { Digest } from '../oci/digest';
import type { Descriptor } from '../oci/image';

interface Data {
  /** A layer's diff id → the compressed blob an earlier push made of it. */
  compressed: Record<Digest, Descriptor>;
  /** A blob → repositories (domain/path) known to hold it, newest last. */
  repos: Record<Digest, string[]>;
}

const MAX_REPOS = 5;
const MAX_ENTRIES = 20_000;

/**
 * What pulls and pushes learned of registries, as docker's v2metadata: the
 * compressed form of a layer, so a push asks whether the registry has it
 * before compressing it again; and where a blob was seen, so a push to
 * another repository of that registry mounts it instead of sending it.
 * A hint only: a wrong entry costs a HEAD or a failed mount, never a
 * wrong image.
 */
export class DistributionMetadata {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private data: Data,
  ) {}

  static async open(file: string): Promise<DistributionMetadata> {
    const data = (await readJsonIfExists<Data>(file)) ?? { compressed: {}, repos: {} };
    return new DistributionMetadata(file, { compressed: data.compressed ?? {}, repos: data.repos ?? {} });
  }

  compressedOf(diffId: Digest): Descriptor | undefined {
    return this.data.compressed[diffId];
  }

  reposOf(digest: Digest): string[] {
    return this.data.repos[digest] ?? [];
  }

  rememberCompressed(diffId: Digest, blob: Descriptor): Promise<void> {
    return this.change((d) => {
      d.compressed[diffId] = { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
    });
  }

  rememberRepo(digests: Digest[], repo: string): Promise<void> {
    return this.change((d) => {
      for (const g of digests) d.repos[g] = [...(d.repos[g] ?? []).filter((r) => r !== repo), repo].slice(-MAX_REPOS);
    });
  }

  private change(fn: (d: Data) => void): Promise<void> {
    const run = async () => {
      fn(this.data);
      for (const k of ['compressed', 'repos'] as const) {
        const keys = Object.keys(this.data[k]);
        for (const old of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) delete this.data[k][old];
      }
      await atomicWriteJson(this.file, this.data);
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined); // the caller hears of the failure through p; the queue goes on
    return p;
  }
}
