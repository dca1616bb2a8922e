import { invalidArgument, notFound, unavailable } from '../../base/errors';
import type { ClusterService } from '../../cluster/cluster';
import type { DockerServiceSpec } from '../../cluster/docker-shape';
import { parseFilters } from '../../engine/system/present';
import { type Context, jsonBody, qBool, qInt, type Router, sendEmpty, sendJson } from '../router';
import { frame, registryAuth, streamResponse } from '../streams';

const NOT_YET = (what: string) => `${what} is not supported by Berth's cluster yet`;

/**
 * docker's swarm endpoints over Berth's cluster (state in etcd): init and
 * leave, the swarm, nodes, services and tasks, with dockerd's statuses and
 * messages where a node is not in a swarm or not a manager. What the
 * cluster does not do yet (swarm unlock) is refused saying so.
 */
export function swarmRoutes(r: Router, cluster: ClusterService): void {
  const refuse = (message: string) => async () => {
    throw unavailable(message);
  };
  const filters = (q: URLSearchParams) => parseFilters(q.get('filters') ?? undefined);

  r.add('GET', '/swarm', async (ctx) => sendJson(ctx, 200, await cluster.inspectSwarm()));
  r.add('POST', '/swarm/init', async (ctx) => {
    const body = await jsonBody<{ AdvertiseAddr?: string; ListenAddr?: string; Spec?: { CAConfig?: { NodeCertExpiry?: number } } }>(ctx);
    sendJson(ctx, 200, await cluster.init({ advertiseAddr: body.AdvertiseAddr || undefined, certExpiryNs: body.Spec?.CAConfig?.NodeCertExpiry || undefined }));
  });
  r.add('POST', '/swarm/leave', async (ctx) => {
    await cluster.leave(qBool(ctx.query, 'force'));
    sendEmpty(ctx, 200);
  });
  r.add('POST', '/swarm/join', async (ctx) => {
    const body = await jsonBody<{ RemoteAddrs?: string[]; JoinToken?: string; AdvertiseAddr?: string }>(ctx);
    await cluster.join({ remoteAddrs: body.RemoteAddrs ?? [], token: body.JoinToken ?? '', advertiseAddr: body.AdvertiseAddr || undefined });
    sendEmpty(ctx, 200);
  });
  r.add('POST', '/swarm/update', async (ctx) => {
    await cluster.updateSwarm(qInt(ctx.query, 'version') ?? 0, await jsonBody(ctx), { rotateWorker: qBool(ctx.query, 'rotateWorkerToken'), rotateManager: qBool(ctx.query, 'rotateManagerToken') });
    sendEmpty(ctx, 200);
  });
  r.add('POST', '/swarm/unlock', refuse(NOT_YET('swarm unlock')));
  r.add('GET', '/swarm/unlockkey', refuse(NOT_YET('an unlock key')));

  r.add('GET', '/nodes', async (ctx) => sendJson(ctx, 200, await cluster.listNodes(filters(ctx.query))));
  r.add('GET', '/nodes/([^/]+)', async (ctx) => sendJson(ctx, 200, await cluster.inspectNode(ctx.params[0])));
  r.add('POST', '/nodes/([^/]+)/update', async (ctx) => {
    await cluster.updateNode(ctx.params[0], await jsonBody(ctx));
    sendEmpty(ctx, 200);
  });
  r.add('DELETE', '/nodes/([^/]+)', async (ctx) => {
    await cluster.removeNode(ctx.params[0], qBool(ctx.query, 'force'));
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/services', async (ctx) => sendJson(ctx, 200, await cluster.listServices({ status: qBool(ctx.query, 'status'), filters: filters(ctx.query) })));
  // docker's --with-registry-auth sends the client's credentials for the image's registry: the nodes pull with them.
  r.add('POST', '/services/create', async (ctx) => sendJson(ctx, 201, await cluster.createService(await jsonBody<DockerServiceSpec>(ctx), registryAuth(ctx))));
  r.add('GET', '/services/([^/]+)', async (ctx) => sendJson(ctx, 200, await cluster.inspectService(ctx.params[0])));
  r.add('POST', '/services/([^/]+)/update', async (ctx) => {
    const rollback = ctx.query.get('rollback') ?? 'none';
    if (rollback !== 'none' && rollback !== 'previous') throw invalidArgument(`invalid rollback ${JSON.stringify(rollback)}: none or previous`);
    sendJson(ctx, 200, await cluster.updateService(ctx.params[0], qInt(ctx.query, 'version') ?? 0, await jsonBody<DockerServiceSpec>(ctx), { rollback: rollback === 'previous', auth: registryAuth(ctx) }));
  });
  r.add('DELETE', '/services/([^/]+)', async (ctx) => {
    await cluster.removeService(ctx.params[0]);
    sendEmpty(ctx, 200);
  });
  // docker's service and task logs: the lines of each task, from its node, as they come.
  const logs = (kind: 'service' | 'task') => async (ctx: Context) => {
    const q = ctx.query;
    if (!qBool(q, 'stdout') && !qBool(q, 'stderr')) throw invalidArgument('Bad parameters: you must choose at least one stream');
    const opts = {
      follow: qBool(q, 'follow'), stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr'), timestamps: qBool(q, 'timestamps'), details: qBool(q, 'details'),
      since: q.get('since') || undefined, until: q.get('until') || undefined, tail: q.get('tail') || undefined,
    };
    // Found (or refused) before the headers, so a client hears 404 rather than an empty stream.
    const lines = await cluster.logs(kind, ctx.params[0], opts);
    const out = streamResponse(ctx, 'application/vnd.docker.multiplexed-stream');
    const abort = new AbortController();
    void out.closed.then(() => abort.abort());
    for await (const l of lines(abort.signal)) await out.write(frame(l.stream, l.line));
    out.end();
  };
  r.add('GET', '/services/([^/]+)/logs', logs('service'));

  // Berth's own: an image pulled on many nodes ahead of a deploy, and how that went.
  r.add('POST', '/berth/cluster/prefetch', async (ctx) => sendJson(ctx, 200, await cluster.prefetch(ctx.query.get('reference') ?? '', ctx.query.get('nodes') ?? 'all')));
  r.add('GET', '/berth/cluster/prefetch/([^/]+)', async (ctx) => sendJson(ctx, 200, await cluster.prefetchStatus(ctx.params[0])));

  r.add('GET', '/tasks', async (ctx) => sendJson(ctx, 200, await cluster.listTasks(filters(ctx.query))));
  r.add('GET', '/tasks/([^/]+)', async (ctx) => {
    const [t] = await cluster.listTasks({ id: [ctx.params[0]] });
    if (!t) throw notFound(`task ${ctx.params[0]} not found`);
    sendJson(ctx, 200, t);
  });
  r.add('GET', '/tasks/([^/]+)/logs', logs('task'));

  // Secrets and configs: the same endpoints, a config's data shown back, a secret's never.
  for (const kind of ['secret', 'config'] as const) {
    const base = `/${kind}s`;
    r.add('GET', base, async (ctx) => sendJson(ctx, 200, await cluster.listObjects(kind, filters(ctx.query))));
    r.add('POST', `${base}/create`, async (ctx) => sendJson(ctx, 201, await cluster.createObject(kind, await jsonBody(ctx))));
    r.add('GET', `${base}/([^/]+)`, async (ctx) => sendJson(ctx, 200, await cluster.inspectObject(kind, ctx.params[0])));
    r.add('POST', `${base}/([^/]+)/update`, async (ctx) => {
      await cluster.updateObject(kind, ctx.params[0], qInt(ctx.query, 'version') ?? 0, await jsonBody(ctx));
      sendEmpty(ctx, 200);
    });
    r.add('DELETE', `${base}/([^/]+)`, async (ctx) => {
      await cluster.removeObject(kind, ctx.params[0]);
      sendEmpty(ctx, 204);
    });
  }
}
