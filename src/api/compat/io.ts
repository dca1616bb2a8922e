import type { AttachedIo } from '../../engine/containers/execs';
import { encodeBatch, type Hijacked } from '../streams';

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
  if (conn.input) {
    const input = conn.input;
    const stdin = io.stdin;
    // A container that does not read makes the client wait: the daemon holds at most a little of its input.
    input.on('data', (c: Buffer) => {
      if (stdin && !stdin.write(c)) {
        input.pause();
        stdin.onDrain(() => input.resume());
      }
    });
    input.on('end', () => stdin?.end());
    // The body reader may have paused the socket, and a paused stream stays so when
    // listened to. Without stdin the input is drained all the same, so a hang-up is seen.
    input.resume();
  }
  try {
    if (io.output) {
      for await (const batch of io.output(abort.signal)) await conn.write(encodeBatch(batch, { tty: io.tty }));
    } else if (until) {
      await Promise.race([until(), conn.closed]);
    }
  } finally {
    io.close?.();
    conn.end();
  }
}
