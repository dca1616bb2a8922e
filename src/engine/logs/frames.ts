import type { LogBatch } from './logs';

export const STDOUT = 1;
export const STDERR = 2;

/** docker's multiplexed stream frame: [stream, 0, 0, 0, size(be32)] + payload. */
export function frame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/**
 * A batch of log entries as the client reads it: raw with a tty, otherwise
 * one frame for each run of entries from the same stream (the client copies
 * payloads and does not care where frames split, and few frames are cheap).
 */
export function encodeBatch(batch: LogBatch, o: { tty: boolean; timestamps?: boolean }): Buffer {
  const stamps = o.timestamps ? batch.map((e) => dockerTime(e.time) + ' ') : undefined;
  let size = 0;
  for (let i = 0; i < batch.length; i++) {
    const e = batch[i];
    if (!o.tty && (i === 0 || e.stream !== batch[i - 1].stream)) size += 8;
    size += (stamps?.[i].length ?? 0) + e.dataLength + (e.full ? 1 : 0);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  let header = -1;
  const close = () => {
    if (header >= 0) out.writeUInt32BE(at - header - 8, header + 4);
  };
  for (let i = 0; i < batch.length; i++) {
    const e = batch[i];
    if (!o.tty && (i === 0 || e.stream !== batch[i - 1].stream)) {
      close();
      header = at;
      out.fill(0, at, at + 8);
      out[at] = e.stream === 'stderr' ? STDERR : STDOUT;
      at += 8;
    }
    if (stamps) at += out.write(stamps[i], at, 'latin1');
    at = e.copyData(out, at);
    if (e.full) out[at++] = 0x0a;
  }
  close();
  return out;
}

/** A k8s-file time (`...+00:00`) the way docker prints log timestamps (`...Z`). */
export function dockerTime(t: string): string {
  return t.replace(/\+00:00$/, 'Z');
}

/**
 * Reads docker's multiplexed frames back (what a node sends a manager):
 * push bytes as they come, take whole lines per stream. A line cut by a
 * frame's end is completed by the next frame of its stream.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private partial: Record<number, Buffer> = {};

  /** The complete lines (without their newline) the bytes so far finish, in order. */
  push(chunk: Buffer): { stream: number; line: Buffer }[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: { stream: number; line: Buffer }[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = this.pending[0];
      let body = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      const before = this.partial[stream];
      if (before) body = Buffer.concat([before, body]);
      let from = 0;
      for (let nl = body.indexOf(0x0a); nl >= 0; nl = body.indexOf(0x0a, from)) {
        out.push({ stream, line: body.subarray(from, nl) });
        from = nl + 1;
      }
      this.partial[stream] = Buffer.from(body.subarray(from));
      if (!this.partial[stream].length) delete this.partial[stream];
    }
    return out;
  }

  /** What is left once the stream has ended: unfinished lines, each a line of its own. */
  end(): { stream: number; line: Buffer }[] {
    const out = Object.entries(this.partial).map(([s, line]) => ({ stream: Number(s), line }));
    this.partial = {};
    return out;
  }
}
