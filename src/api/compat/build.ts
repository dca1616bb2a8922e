import { invalidArgument } from '../../base/errors';
import type { BuildMessage } from '../../engine/images/builds';
import type { Engine } from '../../engine/engine';
import { qBool, type Router } from '../router';
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
      pull: qBool(q, 'pull'),
      // Berth's own: the berth CLI asks for each step's time.
      timings: qBool(q, 'timings'),
      registryConfig: registryConfig(ctx),
      // A client that hangs up cancels its build.
      signal: hangup(ctx),
    };
    await progressResponse(ctx, (emit) => engine.builds.build(ctx.req, o, (m: BuildMessage) => emit(quiet && 'stream' in m ? undefined : m)));
  });
}
