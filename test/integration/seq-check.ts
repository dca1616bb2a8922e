/** What a reader of a `seq` got: its first and last number, how many lines, and where the sequence broke. */
export interface Seq {
  first: number;
  last: number;
  /** Lines read from `first` on. */
  lines: number;
  /** Lines that were not the one before plus one (a gap, a repeat, a reordering, a torn line). */
  breaks: number;
  /** The first such line, as "after N came M". */
  firstBreak?: string;
  code: number | null;
}

/**
 * Checks a `seq` line by line as it streams (it is too big to hold twice):
 * each line must be the one before plus one. Byte by byte, with no strings
 * made: the check must not take the CPU the daemon needs.
 */
export function seqChecker(o: { skipFirstLine?: boolean } = {}) {
  const r = { first: NaN, last: NaN, lines: 0, breaks: 0 } as Omit<Seq, 'code'>;
  let skipping = !!o.skipFirstLine;
  let cur = 0;
  let digits = 0;
  let bad = false;
  return {
    feed(chunk: Buffer) {
      for (const b of chunk) {
        if (b !== 10) {
          if (b >= 48 && b <= 57) cur = cur * 10 + (b - 48);
          else bad = true;
          digits++;
          continue;
        }
        if (skipping) skipping = false;
        else {
          const n = bad || !digits ? NaN : cur;
          if (r.lines === 0) r.first = n;
          else if (n !== r.last + 1) {
            r.breaks++;
            r.firstBreak ??= `after ${r.last} came ${n}`;
          }
          r.last = n;
          r.lines++;
        }
        cur = digits = 0;
        bad = false;
      }
    },
    end(): Omit<Seq, 'code'> {
      if (digits) r.breaks++; // a last line without its newline was cut
      return r;
    },
  };
}
