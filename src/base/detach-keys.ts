import { invalidArgument } from './errors';

/** docker's default: ctrl-p then ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

/**
 * A detach key sequence as docker writes one (`ctrl-p,ctrl-q`, `ctrl-a,x`):
 * each key a single character or `ctrl-` and one of a-z @ [ \ ] ^ _.
 */
export function parseDetachKeys(spec: string | undefined): Buffer {
  if (!spec) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim().toLowerCase();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (k.startsWith('ctrl-') && k.length === 6 && /[a-z@[\\\]^_]/.test(k[5])) out.push(k[5] >= 'a' && k[5] <= 'z' ? k.charCodeAt(5) - 96 : k.charCodeAt(5) - 64);
    else throw invalidArgument(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(out);
}

/**
 * Watches input for the detach sequence, as docker's escape proxy does: the
 * keys of the sequence are held back while they match, passed on when the
 * match breaks, and swallowed when it completes (the caller then detaches).
 */
export class DetachDetector {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  /** What of the chunk goes on to the process, and whether the sequence completed in it. */
  feed(chunk: Buffer): { pass: Buffer; detach: boolean } {
    const pass: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { pass: Buffer.from(pass), detach: true };
        continue;
      }
      // The match broke: what was held was input after all; this byte may start a new match.
      for (let j = 0; j < this.held; j++) pass.push(this.keys[j]);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else pass.push(b);
      if (this.held === this.keys.length) return { pass: Buffer.from(pass), detach: true };
    }
    return { pass: Buffer.from(pass), detach: false };
  }
}
