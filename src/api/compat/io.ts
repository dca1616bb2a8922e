import type { AttachedIo } from '../../engine/execs';
import { type Hijacked, frame, STDERR, STDOUT } from '../streams';

/**
 * Pumps an attached session over a hijacked connection: output framed
 * (or raw with a tty) until it ends, client input into stdin. A client that
 * hangs up stops the output follower and lets go of stdin.
 */
export async function pumpAttached(conn: Hijacked, io: AttachedIo, until?: () => Promise<unknown>): Promise<void> {
  const abort = new AbortController();
  void conn.closed.then(() => {
    abort.abort();
    io.stdin?.close();
  });
  if (io.stdin && conn.input) {
    const stdin = io.stdin;
    conn.input.on('data', (c: Buffer) => stdin.write(c));
    conn.input.on('end', () => stdin.end());
  }
  try {
    if (io.output) {
      for await (const e of io.output(abort.signal)) {
        const payload = e.full ? Buffer.concat([e.data, Buffer.from('\n')]) : e.data;
        await conn.write(io.tty ? payload : frame(e.stream === 'stderr' ? STDERR : STDOUT, payload));
      }
    } else if (until) {
      await Promise.race([until(), conn.closed]);
    }
  } finally {
    conn.end();
  }
}
