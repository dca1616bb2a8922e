import * as fs from 'node:fs';
import { errorMessage, isErrno } from '../base/errors';
import { seqpacketConnect, shutdownWrite } from '../base/linux';

/** conmon reads its attach socket in 8 KiB messages; larger ones would be cut. */
const MESSAGE = 4096;

/**
 * A container's (or exec session's) stdin, through conmon's attach socket
 * (SOCK_SEQPACKET, which libuv cannot wrap: written with write(2)). Writes
 * before the socket exists are queued (a client attaches before `start`);
 * end() closes the container's stdin unless conmon was told to leave it open.
 */
export class StdinSink {
  private fd?: number;
  private queue: Buffer[] = [];
  private ended = false;
  private closed = false;
  private pumping = false;

  /** Connects now; call when the session's conmon has made its attach socket. */
  connect(attachPath: string): void {
    if (this.closed || this.fd !== undefined) return;
    try {
      this.fd = seqpacketConnect(attachPath, true);
    } catch (e) {
      this.close();
      throw new Error(`attach: ${errorMessage(e)}`);
    }
    void this.pump();
  }

  write(chunk: Buffer): void {
    if (this.closed || this.ended) return;
    for (let i = 0; i < chunk.length; i += MESSAGE) this.queue.push(chunk.subarray(i, i + MESSAGE));
    void this.pump();
  }

  end(): void {
    this.ended = true;
    void this.pump();
  }

  /** Drops the connection (conmon then closes stdin unless told to leave it open). */
  close(): void {
    this.closed = true;
    this.queue = [];
    if (this.fd !== undefined && !this.pumping) {
      fs.close(this.fd, () => {});
      this.fd = undefined;
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.fd === undefined) return;
    this.pumping = true;
    try {
      while (this.queue.length && !this.closed) {
        try {
          await new Promise<void>((res, rej) => fs.write(this.fd!, this.queue[0], (e) => (e ? rej(e) : res())));
          this.queue.shift();
        } catch (e) {
          if (!isErrno(e, 'EAGAIN')) throw e;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      if (this.ended && !this.closed && this.fd !== undefined) shutdownWrite(this.fd);
    } catch {
      this.closed = true;
    } finally {
      this.pumping = false;
      if (this.closed && this.fd !== undefined) {
        fs.close(this.fd, () => {});
        this.fd = undefined;
      }
    }
  }
}
