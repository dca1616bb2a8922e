import { parseDetachKeys } from '../../base/detach-keys';
import type { Engine } from '../../engine/engine';
import type { ExecConfig } from '../../engine/containers/execs';
import { jsonBody, qInt, type Router, sendEmpty, sendJson } from '../router';
import { frame, hijack, STDOUT } from '../streams';
import { pumpAttached } from './io';

export function execRoutes(r: Router, engine: Engine): void {
  r.add('POST', '/containers/([^/]+)/exec', async (ctx) => {
    sendJson(ctx, 201, engine.execs.create(ctx.params[0], await jsonBody<ExecConfig>(ctx)));
  });

  r.add('POST', '/exec/([^/]+)/start', async (ctx) => {
    const body = await jsonBody<{ Detach?: boolean; Tty?: boolean }>(ctx);
    if (body.Detach) {
      await engine.execs.start(ctx.params[0], true);
      return sendEmpty(ctx, 200);
    }
    const session = engine.execs.get(ctx.params[0]);
    // The start's Tty decides the framing, as dockerd's does: the process keeps the terminal its create asked for.
    const tty = typeof body.Tty === 'boolean' ? body.Tty : !!session.config.Tty;
    const v = Number(ctx.version ?? '1.41');
    // As docker: the connection is taken first, a failure to start is told in the stream.
    const conn = hijack(ctx, tty || v < 1.42 ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    let io;
    try {
      io = await engine.execs.start(ctx.params[0], false);
    } catch (e) {
      const msg = Buffer.from(`${e instanceof Error ? e.message : String(e)}\r\n`);
      await conn.write(tty ? msg : frame(STDOUT, msg));
      conn.end();
      return;
    }
    await pumpAttached(conn, { ...io, tty }, { detachKeys: parseDetachKeys(session.config.DetachKeys || undefined) });
  });

  r.add('POST', '/exec/([^/]+)/resize', async (ctx) => {
    await engine.execs.resize(ctx.params[0], qInt(ctx.query, 'h') ?? 24, qInt(ctx.query, 'w') ?? 80);
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/exec/([^/]+)/json', async (ctx) => sendJson(ctx, 200, engine.execs.inspect(ctx.params[0])));
}
