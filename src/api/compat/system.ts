import * as os from 'node:os';
import { BERTH_VERSION, type Engine } from '../../engine/engine';
import type { EngineEvent } from '../../engine/system/events';
import { parseFilters } from '../../engine/system/present';
import type { ClusterService } from '../../cluster/cluster';
import { parseTimeArg } from '../../engine/logs/logs';
import { invalidArgument } from '../../base/errors';
import { jsonBody, type Router, sendJson } from '../router';
import { streamResponse } from '../streams';

export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';

export function pingHeaders(): Record<string, string> {
  return {
    'API-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    'Builder-Version': '1',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  };
}

export function systemRoutes(r: Router, engine: Engine, cluster: ClusterService): void {
  r.add('GET', '/_ping', async (ctx) => {
    ctx.res.writeHead(200, { ...pingHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  });

  r.add('GET', '/version', async (ctx) => {
    const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: archName(), KernelVersion: os.release() };
    sendJson(ctx, 200, {
      Platform: { Name: 'Berth' },
      Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: { ...details, GitCommit: '', GoVersion: `node ${process.version}`, BuildTime: '', Experimental: 'false' } }],
      Version: BERTH_VERSION,
      ...details,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      BuildTime: '',
    });
  });

  r.add('POST', '/auth', async (ctx) => {
    const b = await jsonBody<{ username?: string; password?: string; serveraddress?: string }>(ctx);
    if (!b.username || !b.password) throw invalidArgument('username and password are required');
    await engine.registries.login(b.serveraddress || 'docker.io', { username: b.username, password: b.password });
    sendJson(ctx, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  r.add('GET', '/info', async (ctx) => sendJson(ctx, 200, { ...(await engine.info()), Swarm: await cluster.infoSection() }));
  r.add('GET', '/system/df', async (ctx) => sendJson(ctx, 200, await engine.df()));

  r.add('GET', '/events', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters') ?? undefined);
    const since = parseTimeArg(ctx.query.get('since') ?? undefined);
    const until = parseTimeArg(ctx.query.get('until') ?? undefined);
    const out = streamResponse(ctx, 'application/json');
    const matches = (e: EngineEvent) =>
      (!f.type || f.type.includes(e.Type)) &&
      (!f.event || f.event.some((x) => e.Action === x || e.Action.startsWith(`${x}:`))) &&
      (!f.container || (e.Type === 'container' && f.container.some((c) => e.Actor.ID.startsWith(c) || e.Actor.Attributes.name === c))) &&
      (!f.image || f.image.some((i) => e.Actor.Attributes.image === i || e.Actor.ID === i)) &&
      (!f.volume || (e.Type === 'volume' && f.volume.includes(e.Actor.ID))) &&
      (!f.label || f.label.every((l) => { const [k, v] = l.split('='); return v === undefined ? k in e.Actor.Attributes : e.Actor.Attributes[k] === v; }));
    let stop!: () => void;
    const done = new Promise<void>((res) => (stop = res));
    // One write at a time; a client that reads nothing for 10,000 events is let go rather than buffered for ever.
    let backlog = 0;
    let chain = Promise.resolve();
    const unsubscribe = engine.events.subscribe((e) => {
      if (until !== undefined && BigInt(e.timeNano) > until) return stop();
      if (!matches(e)) return;
      if (++backlog > 10_000) return stop();
      chain = chain.then(() => out.write(JSON.stringify(e) + '\n')).then(() => void backlog--);
    }, since);
    let timer: NodeJS.Timeout | undefined;
    if (until !== undefined) {
      const ms = Number(until / 1_000_000n) - Date.now();
      timer = setTimeout(stop, Math.max(0, ms));
    }
    await Promise.race([done, out.closed]);
    if (timer) clearTimeout(timer);
    unsubscribe();
    await chain;
    out.end();
  });
}

function archName(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}
