import { notFound } from '../../base/errors';
import type { Engine } from '../../engine/engine';
import { jsonBody, qBool, type Router, sendEmpty, sendJson } from '../router';
import { API_VERSION } from './system';

export function volumeRoutes(r: Router, engine: Engine): void {
  r.add('GET', '/volumes', async (ctx) => {
    sendJson(ctx, 200, { Volumes: await engine.listVolumes(ctx.query.get('filters') ?? undefined), Warnings: [] });
  });

  r.add('POST', '/volumes/create', async (ctx) => {
    const body = await jsonBody<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>(ctx);
    if (body.Driver && body.Driver !== 'local') throw notFound(`plugin "${body.Driver}" not found`);
    const { created, ...v } = await engine.volumes.create(body.Name, body.Labels ?? {}, body.DriverOpts ?? {});
    if (created) engine.events.publish('volume', 'create', v.Name, { driver: 'local' });
    sendJson(ctx, 201, v);
  });

  r.add('POST', '/volumes/prune', async (ctx) => sendJson(ctx, 200, await engine.pruneVolumes(ctx.query.get('filters') ?? undefined, Number(ctx.version ?? API_VERSION))));

  r.add('GET', '/volumes/([^/]+)', async (ctx) => sendJson(ctx, 200, await engine.volumes.inspect(ctx.params[0])));

  r.add('DELETE', '/volumes/([^/]+)', async (ctx) => {
    const name = ctx.params[0];
    await engine.volumes.remove(name, qBool(ctx.query, 'force') ? [] : engine.containers.volumeUsers(name));
    engine.events.publish('volume', 'destroy', name, { driver: 'local' });
    sendEmpty(ctx);
  });
}
