import { errorMessage } from '../base/errors';
import { type AttachConnection, attachClose, attachEnd, attachOpen, attachWrite } from '../base/linux';

/** conmon reads its attach socket in 8 KiB messages; larger ones would be cut. */
const MESSAGE = 4096;

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

  write(chunk: Buffer): void {
    if (this.closed || this.ended) return;
    for (let i = 0; i < chunk.length; i += MESSAGE) this.queue.push(chunk.subarray(i, i + MESSAGE));
    this.pump();
  }

  end(): void {
    this.ended = true;
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    clearTimeout(this.timer);
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
        this.queue.shift();
      }
      if (this.ended) attachEnd(this.conn);
    } catch {
      // conmon went away (the container exited): input has nowhere to go.
      this.close();
    }
  }
}
