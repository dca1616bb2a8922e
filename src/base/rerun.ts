/**
 * Runs an async round one at a time, level-triggered: soon after a kick
 * (kicks during a round make exactly one more round), and otherwise again
 * after the wait the round returns (undefined: none). A round's failure is
 * the round's to report; the loop goes on.
 */
export class Rerun {
  private running = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly round: () => Promise<number | undefined>,
    /** How soon after a kick the round runs (several kicks within it make one round). */
    private readonly soonMs = 20,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(this.soonMs);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    this.again = false;
    let wait: number | undefined;
    try {
      wait = await this.round();
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.again) this.schedule(this.soonMs);
    else if (wait !== undefined) this.schedule(Math.max(this.soonMs, wait));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
