import { BerthError, invalidArgument } from '../../base/errors';
import type { Engine } from '../../engine/engine';
import type { PullEvent } from '../../engine/images/registries';
import { parseFilters } from '../../engine/system/present';
import { familiarString, parseReference } from '../../oci/reference';
import { qBool, type Router, sendJson } from '../router';
import { hangup, progressMessage, progressResponse, registryAuth, streamResponse } from '../streams';

export function imageRoutes(r: Router, engine: Engine): void {
  const images = engine.images;

  r.add('GET', '/images/json', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters') ?? undefined);
    const reference = [...(f.reference ?? []), ...(ctx.query.get('filter') ? [ctx.query.get('filter')!] : [])];
    sendJson(ctx, 200, await images.list({
      all: qBool(ctx.query, 'all'),
      dangling: f.dangling ? f.dangling.includes('true') : undefined,
      reference, labels: f.label,
    }));
  });

  r.add('POST', '/images/create', async (ctx) => {
    const q = ctx.query;
    const fromImage = q.get('fromImage');
    if (fromImage) {
      // docker sends the tag apart (fromImage=busybox&tag=1.36), or a digest as the tag.
      const tag = q.get('tag');
      const reference = tag ? `${fromImage}${tag.includes(':') ? '@' : ':'}${tag}` : fromImage;
      // A name with neither tag nor digest is docker's `pull -a` (its CLI sends `latest` otherwise).
      const ref = parseReference(reference, { defaultTag: false });
      const pull = ref.tag || ref.digest ? engine.registries.pull.bind(engine.registries) : engine.registries.pullAllTags.bind(engine.registries);
      return progressResponse(ctx, async (emit) => {
        await pull({ reference, platform: q.get('platform') || undefined, credentials: registryAuth(ctx), onProgress: (e) => emit(progressMessage(e)), signal: hangup(ctx) });
      });
    }
    if (q.get('fromSrc') !== '-') throw new BerthError('invalid_argument', 'import from a URL is not supported; send the archive as the body (fromSrc=-)');
    // Errors after this point travel in the progress stream, as docker sends them.
    const out = streamResponse(ctx, 'application/json');
    try {
      const rec = await images.import(ctx.req, {
        repo: q.get('repo') ?? undefined, tag: q.get('tag') ?? undefined, changes: q.getAll('changes'), message: q.get('message') ?? undefined,
      });
      await out.write(JSON.stringify({ status: rec.id }) + '\n');
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await out.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
    }
    out.end();
  });

  r.add('POST', '/images/(.+)/push', async (ctx) => {
    const tag = ctx.query.get('tag');
    const reference = `${ctx.params[0]}${tag ? `:${tag}` : ''}`;
    const ref = parseReference(reference, { defaultTag: false });
    await progressResponse(ctx, async (emit) => {
      const o = { credentials: registryAuth(ctx), onProgress: (e: PullEvent) => emit(progressMessage(e)) };
      // Without a tag, docker pushes every tag of the repository.
      if (!ref.tag && !ref.digest) return engine.registries.pushAllTags(reference, { ...o, onPushed: (t, digest) => emit({ progressDetail: {}, aux: { Tag: t, Digest: digest } }) });
      const { digest } = await engine.registries.push(reference, o);
      emit({ progressDetail: {}, aux: { Tag: ref.tag, Digest: digest } });
    });
  });

  r.add('POST', '/images/load', async (ctx) => {
    const out = streamResponse(ctx, 'application/json');
    try {
      for (const l of await images.load(ctx.req)) {
        const lines = l.tags.length ? l.tags.map((t) => `Loaded image: ${familiarString(parseReference(t))}\n`) : [`Loaded image ID: ${l.image.id}\n`];
        for (const line of lines) await out.write(JSON.stringify({ stream: line }) + '\n');
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await out.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
    }
    out.end();
  });

  r.add('GET', '/images/get', async (ctx) => {
    const names = ctx.query.getAll('names');
    for (const n of names) await images.store.resolve(n);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await images.save(names, ctx.res);
  });

  r.add('GET', '/images/search', async (ctx) => {
    const term = ctx.query.get('term');
    if (!term) throw invalidArgument('term is required: the text to search for');
    const limit = ctx.query.get('limit');
    sendJson(ctx, 200, await engine.registries.search(term, { limit: limit ? Number(limit) : undefined, credentials: registryAuth(ctx), filters: parseFilters(ctx.query.get('filters') ?? undefined) }));
  });

  r.add('GET', '/distribution/(.+)/json', async (ctx) => sendJson(ctx, 200, await engine.registries.inspectRemote(ctx.params[0], registryAuth(ctx))));

  r.add('POST', '/images/prune', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters') ?? undefined);
    sendJson(ctx, 200, await images.prune((f.dangling ?? []).includes('false')));
  });

  r.add('GET', '/images/(.+)/get', async (ctx) => {
    await images.store.resolve(ctx.params[0]);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await images.save([ctx.params[0]], ctx.res);
  });

  r.add('GET', '/images/(.+)/json', async (ctx) => sendJson(ctx, 200, await images.inspect(ctx.params[0])));
  r.add('GET', '/images/(.+)/history', async (ctx) => sendJson(ctx, 200, await images.history(ctx.params[0])));

  r.add('POST', '/images/(.+)/tag', async (ctx) => {
    const repo = ctx.query.get('repo');
    if (!repo) throw new BerthError('invalid_argument', 'repository name must have at least one component');
    await images.tag(ctx.params[0], repo, ctx.query.get('tag') ?? undefined);
    sendJson(ctx, 201, {});
  });

  r.add('DELETE', '/images/(.+)', async (ctx) => {
    sendJson(ctx, 200, await images.remove(ctx.params[0], qBool(ctx.query, 'force')));
  });
}
