/**
 * Per file, synchronous file system calls cost a tenth of their async forms
 * (no thread pool round trip), which is what walks of thousands of small
 * files spend their time on; but they hold the event loop. A walk calls
 * maybe() between files, and gives the loop a turn every few milliseconds.
 */
export class Yielder {
  private last = performance.now();

  constructor(private readonly everyMs = 8) {}

  async maybe(): Promise<void> {
    if (performance.now() - this.last < this.everyMs) return;
    await new Promise((r) => setImmediate(r));
    this.last = performance.now();
  }
}

/** Files up to this size are read or written in one call rather than streamed. */
export const SMALL_FILE = 256 << 10;
