import { existsSync, type FSWatcher, watch } from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../../base/errors';
import type { Logger } from '../../base/log';
import { rotateLog } from './logs';

/** A log to keep within max-size × max-file; conmon writes `file` and caps it at max-size. */
export interface RotatedLog {
  id: string;
  file: string;
  maxSize: number;
  maxFile: number;
}

/**
 * Rotation on birth. conmon's --log-size-max makes it start a new file at
 * max-size, replacing the path; a file renamed away before that is kept
 * instead. So every new file at the path is moved into the history at once
 * (file → file.1, file.1 → file.2, …, the one beyond max-file removed), and
 * conmon fills it there until its cap makes the next one. Asking conmon to
 * reopen instead would not do: conmon 2.1.6 counts the bytes toward its cap
 * across reopens, so the cap would cut a live file every few rotations.
 * Each file holds max-size, and there are at most max-file of them (plus,
 * for the moment the rename takes, the new one). A watch on the folder sees
 * each new file as it appears; a look every 500 ms catches what a watch
 * could not (the daemon was down, the watch failed).
 */
export class LogRotator {
  private readonly watchers = new Map<string, FSWatcher | undefined>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly logs: () => RotatedLog[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sync(), 500);
    this.timer.unref();
    this.sync();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watchers.values()) w?.close();
    this.watchers.clear();
  }

  /** Watches the logs there are now, forgets the others, and looks at each. */
  private sync(): void {
    const current = new Set<string>();
    for (const log of this.logs()) {
      current.add(log.id);
      this.watch(log);
    }
    for (const [id, w] of this.watchers) {
      if (current.has(id)) continue;
      w?.close();
      this.watchers.delete(id);
    }
  }

  /** Rotates a log from now on (a container about to start: in a flood its first file fills in milliseconds). */
  watch(log: RotatedLog): void {
    if (!this.watchers.has(log.id)) {
      const base = path.basename(log.file);
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(path.dirname(log.file), (ev, name) => {
          if (ev === 'rename' && String(name ?? base) === base) this.rotate(log);
        });
        watcher.on('error', () => {});
      } catch {
        /* the periodic look still rotates */
      }
      this.watchers.set(log.id, watcher);
    }
    this.rotate(log);
  }

  /** Moves a new file at the path into the history; synchronous, so never two at once and before conmon fills it. */
  private rotate(log: RotatedLog): void {
    try {
      if (existsSync(log.file)) rotateLog(log.file, log.maxFile);
    } catch (e) {
      this.logger.warn('log rotation', { id: log.id, error: errorMessage(e) });
    }
  }
}
