import { pipeline } from 'node:stream/promises';
import { invalidArgument } from '../../base/errors';
import { parseDetachKeys } from '../../base/detach-keys';
import { assertReadableLogs, attachContainer, containerLogs, resizeContainer } from '../../engine/containers/container-io';
import type { Engine } from '../../engine/engine';
import type { ContainerCreateConfig } from '../../engine/containers/merge';
import type { EndpointSettings, HostConfig } from '../../engine/model';
import type { ContainerConfig } from '../../oci/image';
import { type Context, jsonBody, qBool, qInt, type Router, sendEmpty, sendJson } from '../router';
import { encodeBatch, hijack, streamResponse } from '../streams';
import { pumpAttached } from './io';

const ID = '([^/]+)';
const RAW = 'application/vnd.docker.raw-stream';
const MUX = 'application/vnd.docker.multiplexed-stream';

/** The stream type docker uses for a container's output at an API version. */
function streamType(ctx: Context, tty: boolean): string {
  const v = Number(ctx.version ?? '1.41');
  return tty || v < 1.42 ? RAW : MUX;
}

export function containerRoutes(r: Router, engine: Engine): void {
  const svc = engine.containers;

  r.add('GET', '/containers/json', async (ctx) => {
    const list = engine.listContainers({ all: qBool(ctx.query, 'all'), limit: qInt(ctx.query, 'limit'), filters: ctx.query.get('filters') ?? undefined });
    sendJson(ctx, 200, qBool(ctx.query, 'size') ? await engine.withSizes(list) : list);
  });

  r.add('POST', '/containers/create', async (ctx) => {
    const body = await jsonBody<ContainerCreateConfig & { HostConfig?: HostConfig; NetworkingConfig?: { EndpointsConfig?: Record<string, Partial<EndpointSettings>> | null } | null }>(ctx);
    const { HostConfig: host, NetworkingConfig: net, ...config } = body;
    sendJson(ctx, 201, await svc.create(ctx.query.get('name') ?? undefined, config, host ?? {}, net?.EndpointsConfig ?? {}));
  });

  r.add('POST', '/containers/prune', async (ctx) => sendJson(ctx, 200, await engine.pruneContainers(ctx.query.get('filters') ?? undefined)));

  r.add('GET', `/containers/${ID}/json`, async (ctx) => sendJson(ctx, 200, await engine.inspectContainer(ctx.params[0])));

  r.add('POST', `/containers/${ID}/start`, async (ctx) => {
    await svc.start(ctx.params[0]);
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/stop`, async (ctx) => {
    await svc.stop(ctx.params[0], qInt(ctx.query, 't'), ctx.query.get('signal') ?? undefined);
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/restart`, async (ctx) => {
    await svc.restart(ctx.params[0], qInt(ctx.query, 't'));
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/kill`, async (ctx) => {
    await svc.kill(ctx.params[0], ctx.query.get('signal') ?? undefined);
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/pause`, async (ctx) => {
    await svc.pause(ctx.params[0]);
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/unpause`, async (ctx) => {
    await svc.unpause(ctx.params[0]);
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/rename`, async (ctx) => {
    await svc.rename(ctx.params[0], ctx.query.get('name') ?? '');
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/update`, async (ctx) => {
    sendJson(ctx, 200, await svc.update(ctx.params[0], await jsonBody<HostConfig>(ctx)));
  });

  // `docker rm --link /container/alias` sends the link's name, slashes and all.
  r.add('DELETE', '/containers/(.+)', async (ctx) => {
    if (qBool(ctx.query, 'link')) await svc.removeLink(ctx.params[0]);
    else await svc.remove(ctx.params[0], { force: qBool(ctx.query, 'force'), volumes: qBool(ctx.query, 'v') });
    sendEmpty(ctx);
  });

  r.add('POST', `/containers/${ID}/wait`, async (ctx) => {
    // Headers first: the client starts the container only after this call is under way.
    const waiting = svc.wait(ctx.params[0], ctx.query.get('condition') || 'not-running');
    // Unknown containers fail before the headers go out, with their proper status.
    await Promise.race([waiting.then(() => undefined), new Promise((r) => setImmediate(r))]);
    const out = streamResponse(ctx, 'application/json');
    const result = await waiting.catch((e: Error) => ({ StatusCode: -1, Error: { Message: e.message } }));
    await out.write(JSON.stringify(result) + '\n');
    out.end();
  });

  // Containers to images.
  const KIND = { C: 0, A: 1, D: 2 } as const;
  r.add('GET', `/containers/${ID}/changes`, async (ctx) => {
    sendJson(ctx, 200, (await engine.containerImages.diff(ctx.params[0])).map((c) => ({ Path: c.path, Kind: KIND[c.kind] })));
  });

  r.add('POST', '/commit', async (ctx) => {
    const q = ctx.query;
    const container = q.get('container');
    if (!container) throw invalidArgument('a container is required (container=...)');
    const config = (await jsonBody<ContainerConfig | null>(ctx)) ?? undefined;
    const rec = await engine.containerImages.commit(container, {
      repo: q.get('repo') || undefined, tag: q.get('tag') || undefined, comment: q.get('comment') ?? undefined, author: q.get('author') ?? undefined,
      changes: q.getAll('changes').filter(Boolean), config, pause: qBool(q, 'pause', true),
    });
    sendJson(ctx, 201, { Id: rec.id });
  });

  r.add('GET', `/containers/${ID}/export`, async (ctx) => {
    const tar = await engine.containerImages.export(ctx.params[0]);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(tar, ctx.res);
  });

  // docker cp.
  const pathStat = (st: object) => Buffer.from(JSON.stringify(st)).toString('base64');
  const archivePath = (ctx: Context) => {
    const p = ctx.query.get('path');
    if (!p) throw invalidArgument('path is required (path=...)');
    return p;
  };
  r.add('HEAD', `/containers/${ID}/archive`, async (ctx) => {
    const st = await engine.files.stat(ctx.params[0], archivePath(ctx));
    ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': pathStat(st), 'Content-Type': 'application/x-tar' });
    ctx.res.end();
  });
  r.add('GET', `/containers/${ID}/archive`, async (ctx) => {
    const { stat, stream } = await engine.files.get(ctx.params[0], archivePath(ctx));
    ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': pathStat(stat), 'Content-Type': 'application/x-tar' });
    await pipeline(stream, ctx.res);
  });
  r.add('PUT', `/containers/${ID}/archive`, async (ctx) => {
    await engine.files.put(ctx.params[0], archivePath(ctx), ctx.req, { copyUIDGID: qBool(ctx.query, 'copyUIDGID') });
    sendEmpty(ctx, 200);
  });

  r.add('GET', `/containers/${ID}/top`, async (ctx) => sendJson(ctx, 200, await svc.top(ctx.params[0], ctx.query.get('ps_args') ?? undefined)));

  r.add('GET', `/containers/${ID}/logs`, async (ctx) => {
    const q = ctx.query;
    const c = svc.store.get(ctx.params[0]);
    if (!qBool(q, 'stdout') && !qBool(q, 'stderr')) throw invalidArgument('Bad parameters: you must choose at least one stream');
    // Before the headers: the client hears the status (501), not an empty stream.
    assertReadableLogs(c);
    const tty = !!c.Config.Tty;
    const out = streamResponse(ctx, streamType(ctx, tty));
    const abort = new AbortController();
    void out.closed.then(() => abort.abort());
    const ts = qBool(q, 'timestamps');
    const entries = containerLogs(svc, c.Id, {
      follow: qBool(q, 'follow'), stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr'),
      since: q.get('since') ?? undefined, until: q.get('until') ?? undefined, tail: q.get('tail') ?? undefined,
    }, abort.signal);
    for await (const batch of entries) {
      if (abort.signal.aborted) break;
      await out.write(encodeBatch(batch, { tty, timestamps: ts }));
    }
    out.end();
  });

  r.add('POST', `/containers/${ID}/attach`, async (ctx) => {
    const q = ctx.query;
    const c = svc.store.get(ctx.params[0]);
    const detachKeys = parseDetachKeys(q.get('detachKeys') || undefined); // a bad sequence is refused before the hijack
    const io = await attachContainer(svc, c.Id, {
      stdin: qBool(q, 'stdin'), stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr'), logs: qBool(q, 'logs'), stream: qBool(q, 'stream'),
    });
    const conn = hijack(ctx, streamType(ctx, io.tty));
    await pumpAttached(conn, io, { until: () => svc.wait(c.Id, 'next-exit'), detachKeys });
  });

  r.add('POST', `/containers/${ID}/resize`, async (ctx) => {
    await resizeContainer(svc, ctx.params[0], qInt(ctx.query, 'h') ?? 24, qInt(ctx.query, 'w') ?? 80);
    sendEmpty(ctx, 200);
  });

  r.add('GET', `/containers/${ID}/stats`, async (ctx) => {
    const id = svc.store.get(ctx.params[0]).Id;
    const stream = qBool(ctx.query, 'stream', true);
    const oneShot = qBool(ctx.query, 'one-shot');
    let pre = await engine.stats(id);
    if (!stream) {
      if (!oneShot && pre.cpu_stats.system_cpu_usage) {
        await new Promise((r) => setTimeout(r, 1000));
        pre = await engine.stats(id, pre);
      }
      return sendJson(ctx, 200, pre);
    }
    const out = streamResponse(ctx, 'application/json');
    let open = true;
    void out.closed.then(() => (open = false));
    while (open && svc.store.find(id)) {
      await out.write(JSON.stringify(pre) + '\n');
      await new Promise((r) => setTimeout(r, 1000));
      pre = await engine.stats(id, pre).catch(() => pre);
    }
    out.end();
  });
}
