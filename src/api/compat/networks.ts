import { notFound } from '../../base/errors';
import type { ClusterService } from '../../cluster/cluster';
import type { Engine } from '../../engine/engine';
import type { EndpointSettings } from '../../engine/model';
import type { NetworkCreateRequest } from '../../engine/networks/network-store';
import { jsonBody, type Router, sendEmpty, sendJson } from '../router';

/**
 * docker's /networks endpoints (compose creates networks and connects
 * containers with aliases through them). Overlay networks are the
 * cluster's: made and removed on a manager, listed there beside this
 * node's own (a node's part of one is listed by the node that carries it).
 */
export function networkRoutes(r: Router, engine: Engine, cluster: ClusterService): void {
  r.add('GET', '/networks', async (ctx) => sendJson(ctx, 200, engine.listNetworks(ctx.query.get('filters') ?? undefined, await cluster.networkRecords())));

  r.add('POST', '/networks/create', async (ctx) => {
    const req = await jsonBody<NetworkCreateRequest>(ctx);
    if (req.Driver !== 'overlay') return sendJson(ctx, 201, await engine.createNetwork(req));
    const made = await cluster.createNetwork(req);
    engine.events.publish('network', 'create', made.Id, { name: req.Name ?? '', type: 'overlay' });
    sendJson(ctx, 201, made);
  });

  r.add('POST', '/networks/prune', async (ctx) => sendJson(ctx, 200, await engine.pruneNetworks(ctx.query.get('filters') ?? undefined)));

  r.add('GET', '/networks/([^/]+)', async (ctx) => sendJson(ctx, 200, engine.inspectNetwork(decodeURIComponent(ctx.params[0]), await cluster.networkRecords())));

  r.add('DELETE', '/networks/([^/]+)', async (ctx) => {
    const ref = decodeURIComponent(ctx.params[0]);
    const local = engine.networks.store.find(ref);
    if (local?.Scope === 'local') {
      await engine.removeNetwork(ref);
    } else {
      // A cluster network: removed through the cluster, never one node's part of it alone.
      if (!cluster.joined) throw notFound(`network ${ref} not found`);
      await cluster.removeNetwork(local?.Id ?? ref);
      engine.events.publish('network', 'destroy', local?.Id ?? ref, { name: local?.Name ?? ref, type: 'overlay' });
    }
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
