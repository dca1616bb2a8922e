import type { Engine } from '../../engine/engine';
import type { EndpointSettings } from '../../engine/model';
import type { NetworkCreateRequest } from '../../engine/networks/network-store';
import { jsonBody, type Router, sendEmpty, sendJson } from '../router';

/** docker's /networks endpoints (compose creates networks and connects containers with aliases through them). */
export function networkRoutes(r: Router, engine: Engine): void {
  r.add('GET', '/networks', async (ctx) => sendJson(ctx, 200, engine.listNetworks(ctx.query.get('filters') ?? undefined)));

  r.add('POST', '/networks/create', async (ctx) => sendJson(ctx, 201, await engine.createNetwork(await jsonBody<NetworkCreateRequest>(ctx))));

  r.add('POST', '/networks/prune', async (ctx) => sendJson(ctx, 200, await engine.pruneNetworks(ctx.query.get('filters') ?? undefined)));

  r.add('GET', '/networks/([^/]+)', async (ctx) => sendJson(ctx, 200, engine.inspectNetwork(decodeURIComponent(ctx.params[0]))));

  r.add('DELETE', '/networks/([^/]+)', async (ctx) => {
    await engine.removeNetwork(decodeURIComponent(ctx.params[0]));
    sendEmpty(ctx);
  });

  r.add('POST', '/networks/([^/]+)/connect', async (ctx) => {
    const body = await jsonBody<{ Container: string; EndpointConfig?: Partial<EndpointSettings> | null }>(ctx);
    await engine.containers.connect(body.Container, decodeURIComponent(ctx.params[0]), body.EndpointConfig ?? {});
    sendEmpty(ctx, 200);
  });

  r.add('POST', '/networks/([^/]+)/disconnect', async (ctx) => {
    const body = await jsonBody<{ Container: string; Force?: boolean }>(ctx);
    await engine.containers.disconnect(body.Container, decodeURIComponent(ctx.params[0]), !!body.Force);
    sendEmpty(ctx, 200);
  });
}
