import { invalidArgument } from '../../base/errors';
import type { Engine } from '../../engine/engine';
import { type Router, sendJson } from '../router';
import { hangup, progressResponse, registryAuth } from '../streams';

/** Berth's own routes, beside docker's: under /berth so they never collide with a future docker one. */
export function nativeSystemRoutes(r: Router, engine: Engine): void {
  // Temp files younger than 10 s may be atomic writes in progress.
  r.add('POST', '/berth/system/check', async (ctx) => {
    const repair = ['1', 'true'].includes(ctx.query.get('repair') ?? '');
    sendJson(ctx, 200, { Problems: await engine.check({ repair, tempAgeMs: 10_000 }), Host: engine.hostReport() });
  });

  r.add('POST', '/berth/images/prefetch', async (ctx) => {
    const reference = ctx.query.get('reference');
    if (!reference) throw invalidArgument('prefetch needs an image reference');
    sendJson(ctx, 200, await engine.registries.prefetch({ reference, platform: ctx.query.get('platform') || undefined, credentials: registryAuth(ctx), signal: hangup(ctx) }));
  });

  r.add('POST', '/berth/images/bootstrap', async (ctx) => {
    const q = ctx.query;
    const name = q.get('name');
    if (!name) throw invalidArgument('bootstrap needs a name for the image (e.g. debian:bookworm)');
    const o = { name, suite: q.get('suite') ?? undefined, mirror: q.get('mirror') ?? undefined, variant: q.get('variant') ?? undefined, include: q.getAll('include') };
    await progressResponse(ctx, (emit) => engine.builds.bootstrap(o, emit));
  });
}
