import type { Engine } from '../../engine/engine';
import { type Router, sendJson } from '../router';

/** Berth's own routes, beside docker's: under /berth so they never collide with a future docker one. */
export function nativeSystemRoutes(r: Router, engine: Engine): void {
  // Temp files younger than 10 s may be atomic writes in progress.
  r.add('POST', '/berth/system/check', async (ctx) => {
    const repair = ['1', 'true'].includes(ctx.query.get('repair') ?? '');
    sendJson(ctx, 200, { Problems: await engine.check({ repair, tempAgeMs: 10_000 }) });
  });
}
