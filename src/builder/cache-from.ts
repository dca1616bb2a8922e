import { isDeepStrictEqual } from 'node:util';
import type { Digest } from '../oci/digest';
import type { Descriptor, HistoryEntry, ImageConfig } from '../oci/image';

/** An image named by `--cache-from`: its history may stand for steps this build would run. */
export interface CacheSource {
  id: Digest;
  config: ImageConfig;
  layers: Descriptor[];
}

export interface CacheSourceStep {
  source: CacheSource;
  /** The step is the source's last: the source image itself is the step's image. */
  whole: boolean;
  /** The source's history entry for the step. */
  entry: HistoryEntry;
  /** The step's layer, when it made one. */
  layer?: { descriptor: Descriptor; diffId: Digest };
}

/**
 * The cache-from image that serves a step, as docker's classic builder
 * matches them: its history begins with the parent's (entry for entry)
 * and its layers with the parent's, and its next history entry was made
 * by the same step (the same created-by text, which for COPY and ADD
 * carries the content's digest).
 */
export function cacheSourceStep(sources: CacheSource[], parent: ImageConfig, createdBy: string): CacheSourceStep | undefined {
  const history = parent.history ?? [];
  const diffIds = parent.rootfs.diff_ids;
  for (const source of sources) {
    const h = source.config.history ?? [];
    const ids = source.config.rootfs.diff_ids;
    if (h.length <= history.length || ids.length < diffIds.length) continue;
    if (!history.every((e, n) => isDeepStrictEqual(e, h[n])) || !diffIds.every((d, n) => d === ids[n])) continue;
    const entry = h[history.length];
    if (entry.created_by !== createdBy) continue;
    const whole = h.length - 1 === history.length;
    if (entry.empty_layer) return { source, whole, entry };
    // The layer is the one after as many as the entries before it made.
    const index = h.slice(0, history.length).filter((e) => !e.empty_layer).length;
    if (index >= ids.length || index >= source.layers.length) continue;
    return { source, whole, entry, layer: { descriptor: source.layers[index], diffId: ids[index] } };
  }
  return undefined;
}
