import type { AttachedIo } from '../../engine/containers/execs';
import { DEFAULT_DETACH_KEYS, DetachDetector } from '../../base/detach-keys';
import { encodeBatch, type Hijacked } from '../streams';

/**
 * Pumps an attached session over a hijacked connection: output framed
 * (or raw with a tty) until it ends, client input into stdin. A client that
 * hangs up stops the output follower and lets go of stdin.
 */
export async function pumpAttached(conn: Hijacked, io: AttachedIo, o: { until?: () => Promise<unknown>; detachKeys?: Buffer } = {}): Promise<void> {
  const abort = new AbortController();
  void conn.closed.then(() => {
    abort.abort();
    io.stdin?.close();
  });
  const detached = new Promise<void>((resolve) => {
    if (!conn.input) return;
    const input = conn.input;
    const stdin = io.stdin;
    // The detach keys (docker's escape proxy): the attach ends, the process runs on.
    const detector = stdin ? new DetachDetector(o.detachKeys ?? DEFAULT_DETACH_KEYS) : undefined;
    // A container that does not read makes the client wait: the daemon holds at most a little of its input.
    input.on('data', (c: Buffer) => {
      if (!stdin || abort.signal.aborted) return;
      const { pass, detach } = detector!.feed(c);
      if (pass.length && !stdin.write(pass)) {
        input.pause();
        stdin.onDrain(() => input.resume());
      }
      if (detach) {
        abort.abort();
        resolve();
      }
    });
    input.on('end', () => !abort.signal.aborted && stdin?.end());
    // The body reader may have paused the socket, and a paused stream stays so when
    // listened to. Without stdin the input is drained all the same, so a hang-up is seen.
    input.resume();
  });
  try {
    if (io.output) {
      for await (const batch of io.output(abort.signal)) await conn.write(encodeBatch(batch, { tty: io.tty }));
    } else if (o.until) {
      await Promise.race([o.until(), conn.closed, detached]);
    }
  } finally {
    io.close?.();
    conn.end();
  }
}
