import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { Digest } from '../oci/digest';
import type { HistoryEntry, ImageConfig } from '../oci/image';
import { type CacheSource, cacheSourceStep } from './cache-from';
import { seededRandom as rng } from '../base/seeded';


const STEPS = ['RUN a', 'RUN b', 'COPY file:1 in /', 'ENV X=1', 'WORKDIR /w'];

/** An image config from a chain of steps: a layer for each step that is not metadata. */
function chain(steps: { by: string; empty: boolean; t: number }[]): ImageConfig {
  const history: HistoryEntry[] = steps.map((s) => ({ created: new Date(s.t * 1000).toISOString(), created_by: s.by, ...(s.empty ? { empty_layer: true } : {}) }));
  const diff_ids = steps.filter((s) => !s.empty).map((s) => `sha256:${s.by.replace(/\W/g, '')}${s.t}` as Digest);
  return { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids }, history, config: {} };
}

/** The first n entries of an image, with the layers they made. */
function prefix(c: ImageConfig, n: number): { history: HistoryEntry[]; diffIds: Digest[] } {
  const history = (c.history ?? []).slice(0, n);
  return { history, diffIds: c.rootfs.diff_ids.slice(0, history.filter((h) => !h.empty_layer).length) };
}

test('a --cache-from image serves a step exactly when its history extends the parent by that step (2000 generated cases)', () => {
  for (let seed = 1; seed <= 2000; seed++) {
    const r = rng(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const randomChain = (n: number) => Array.from({ length: n }, () => {
      const by = pick(STEPS);
      return { by, empty: by.startsWith('ENV') || by.startsWith('WORKDIR'), t: Math.floor(r() * 3) };
    });
    // Sources share a trunk, then branch: the cases where a prefix matches are common.
    const trunk = randomChain(Math.floor(r() * 4));
    const sources: CacheSource[] = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, n) => {
      const config = chain([...trunk, ...randomChain(Math.floor(r() * 4))]);
      return { id: `sha256:${'0'.repeat(63)}${n}` as Digest, config, layers: config.rootfs.diff_ids.map((d) => ({ mediaType: 'layer', digest: d, size: 1 })) };
    });
    // The parent: a prefix of a source (perhaps with a step changed), or the empty image.
    const base = pick(sources).config;
    const k = Math.floor(r() * ((base.history ?? []).length + 1));
    let parentSteps = (base.history ?? []).slice(0, k).map((h) => ({ by: h.created_by!, empty: !!h.empty_layer, t: (Date.parse(h.created!) / 1000) | 0 }));
    if (r() < 0.2 && parentSteps.length) parentSteps = [...parentSteps.slice(0, -1), { ...parentSteps[parentSteps.length - 1], t: 9 }];
    const parent = chain(parentSteps);
    const createdBy = r() < 0.7 && (base.history ?? [])[k] ? base.history![k].created_by! : pick(STEPS);

    const hit = cacheSourceStep(sources, parent, createdBy);
    const want = sources.find((s) => {
      const p = prefix(s.config, parent.history!.length);
      return (s.config.history ?? []).length > parent.history!.length && isDeepStrictEqual(p.history, parent.history) && isDeepStrictEqual(p.diffIds, parent.rootfs.diff_ids) && s.config.history![parent.history!.length].created_by === createdBy;
    });
    assert.equal(hit?.source.id, want?.id, `seed ${seed}: the first source that extends the parent by the step serves it`);
    if (!hit) continue;
    // What the builder restores (the parent, the entry, the layer) is the source's own image at that step.
    const restored = { history: [...parent.history!, hit.entry], diffIds: [...parent.rootfs.diff_ids, ...(hit.layer ? [hit.layer.diffId] : [])] };
    assert.deepEqual(restored, prefix(hit.source.config, parent.history!.length + 1), `seed ${seed}`);
    if (hit.layer) assert.equal(hit.layer.descriptor.digest, hit.layer.diffId, `seed ${seed}: the layer blob is the one of that diff`);
    assert.equal(hit.whole, hit.source.config.history!.length === parent.history!.length + 1, `seed ${seed}`);
  }
});
