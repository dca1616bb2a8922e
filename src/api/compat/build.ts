import { invalidArgument } from '../../base/errors';
import type { BuildMessage } from '../../engine/images/builds';
import type { Engine } from '../../engine/engine';
import { qBool, type Router, sendJson } from '../router';
import { hangup, progressResponse, registryConfig } from '../streams';

function jsonParam(q: URLSearchParams, name: string): Record<string, string> {
  const v = q.get(name);
  if (!v) return {};
  try {
    const o = JSON.parse(v);
    if (o && typeof o === 'object' && !Array.isArray(o)) return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== null).map(([k, x]) => [k, String(x)]));
  } catch {
    /* refused below */
  }
  throw invalidArgument(`${name}: a JSON object is expected`);
}

function jsonList(q: URLSearchParams, name: string): string[] {
  const v = q.get(name);
  if (!v) return [];
  try {
    const o = JSON.parse(v);
    if (Array.isArray(o) && o.every((x) => typeof x === 'string')) return o;
  } catch {
    /* refused below */
  }
  throw invalidArgument(`${name}: a JSON array of image names is expected`);
}

/** Berth's CLI sends `--secret`s in a header (base64url JSON of id → base64 value): never in a URL or the context. */
function secretsOf(header: string | string[] | undefined): Record<string, Buffer> {
  if (typeof header !== 'string' || !header) return {};
  try {
    const o = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, string>;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(String(v), 'base64')]));
  } catch {
    throw invalidArgument('X-Berth-Build-Secrets: base64url JSON of id → base64 value is expected');
  }
}

/** POST /build: docker's classic builder protocol (the context tar in, JSON progress messages out). */
export function buildRoutes(r: Router, engine: Engine): void {
  r.add('POST', '/build', async (ctx) => {
    const q = ctx.query;
    if (q.get('version') === '2') throw invalidArgument('BuildKit is not supported: build with DOCKER_BUILDKIT=0 (the classic builder protocol)');
    if (q.get('remote')) throw invalidArgument('building from a remote context is not supported: send the context as the body');
    const quiet = qBool(q, 'q');
    const o = {
      tags: q.getAll('t'),
      dockerfile: q.get('dockerfile') ?? undefined,
      buildArgs: jsonParam(q, 'buildargs'),
      labels: jsonParam(q, 'labels'),
      target: q.get('target') || undefined,
      noCache: qBool(q, 'nocache'),
      network: q.get('networkmode') && q.get('networkmode') !== 'default' ? q.get('networkmode')! : undefined,
      extraHosts: q.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean),
      squash: qBool(q, 'squash'),
      cacheFrom: jsonList(q, 'cachefrom'),
      platform: q.get('platform') || undefined,
      secrets: secretsOf(ctx.req.headers['x-berth-build-secrets']),
      pull: qBool(q, 'pull'),
      // Berth's own: the berth CLI asks for each step's time.
      timings: qBool(q, 'timings'),
      registryConfig: registryConfig(ctx),
      // A client that hangs up cancels its build.
      signal: hangup(ctx),
    };
    await progressResponse(ctx, (emit) => engine.builds.build(ctx.req, o, (m: BuildMessage) => emit(quiet && 'stream' in m ? undefined : m)));
  });
  r.add('POST', '/build/prune', async (ctx) => {
    // Pruning more than asked would lose cache the client meant to keep: what cannot be honoured is refused.
    const filters = Object.keys(jsonParam(ctx.query, 'filters'));
    if (filters.length) throw invalidArgument(`build prune: filters (${filters.join(', ')}) are not supported; every unused build cache is pruned`);
    if (!['', '0'].includes(ctx.query.get('keep-storage') ?? '')) throw invalidArgument('build prune: --keep-storage is not supported; every unused build cache is pruned');
    sendJson(ctx, 200, await engine.builds.prune());
  });
}
