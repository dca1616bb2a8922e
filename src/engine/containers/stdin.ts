import { errorMessage } from '../../base/errors';
import { type AttachConnection, attachClose, attachEnd, attachOpen, attachWrite } from '../../base/linux';

/** conmon reads its attach socket in 8 KiB messages; larger ones would be cut. */
const MESSAGE = 4096;
/** Input held for a container that is not reading, before the client is asked to wait. */
const HIGH_WATER = 1 << 20;

/**
 * A container's (or exec session's) stdin, through conmon's attach socket.
 * Writes before the socket exists are queued (a client attaches before
 * `start`); end() gives the container EOF on stdin; close() lets go, and
 * conmon then closes stdin unless it was told to leave it open.
 */
export class StdinSink {
  private conn?: AttachConnection;
  private queue: Buffer[] = [];
  private ended = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private queued = 0;
  private drained?: () => void;

  /** Connects now; call when the session's conmon has made its attach socket. */
  connect(attachPath: string): void {
    if (this.closed || this.conn) return;
    try {
      this.conn = attachOpen(attachPath);
    } catch (e) {
      this.close();
      throw new Error(`attach: ${errorMessage(e)}`);
    }
    this.pump();
  }

  /** Queues input; false when the caller should wait for onDrain before writing more. */
  write(chunk: Buffer): boolean {
    if (this.closed || this.ended) return true;
    for (let i = 0; i < chunk.length; i += MESSAGE) this.queue.push(chunk.subarray(i, i + MESSAGE));
    this.queued += chunk.length;
    this.pump();
    return this.queued < HIGH_WATER;
  }

  /** Calls back once what is queued has gone below the high-water mark (or the sink closed). */
  onDrain(cb: () => void): void {
    if (this.closed || this.queued < HIGH_WATER) cb();
    else this.drained = cb;
  }

  private release(): void {
    const cb = this.drained;
    this.drained = undefined;
    cb?.();
  }

  end(): void {
    this.ended = true;
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    clearTimeout(this.timer);
    this.release();
    if (this.conn) attachClose(this.conn);
    this.conn = undefined;
  }

  /** Sends what is queued; a full socket (the container is not reading) is retried shortly. */
  private pump(): void {
    if (!this.conn || this.timer) return;
    try {
      while (this.queue.length) {
        if (attachWrite(this.conn, this.queue[0]) < 0) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, 5);
          return;
        }
        this.queued -= this.queue.shift()!.length;
        if (this.queued < HIGH_WATER) this.release();
      }
      if (this.ended) attachEnd(this.conn);
    } catch {
      // conmon went away (the container exited): input has nowhere to go.
      this.close();
    }
  }
}
