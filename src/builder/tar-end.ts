import { Transform } from 'node:stream';

const BLOCK = 512;

/**
 * Passes a tar through and, when it ends right after an entry's data (or
 * between entries) without its padding and end blocks, adds them. The
 * docker CLI sends a context so when its -f names a Dockerfile outside the
 * context (its tar rewriter never closes the archive); dockerd's reader takes
 * that. A tar cut inside an entry's data is left cut: the reader refuses it.
 */
export function completeTarEnd(): Transform {
  let header = Buffer.alloc(0);
  /** Bytes of the current entry's data (then of its padding) still to come; 0 between entries. */
  let data = 0;
  let pad = 0;
  let zeros = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      for (let at = 0; at < chunk.length; ) {
        if (data > 0) {
          const n = Math.min(data, chunk.length - at);
          data -= n;
          at += n;
          continue;
        }
        if (pad > 0) {
          const n = Math.min(pad, chunk.length - at);
          pad -= n;
          at += n;
          continue;
        }
        const n = Math.min(BLOCK - header.length, chunk.length - at);
        header = Buffer.concat([header, chunk.subarray(at, at + n)]);
        at += n;
        if (header.length < BLOCK) continue;
        if (header.every((b) => b === 0)) zeros++;
        else {
          zeros = 0;
          const size = entrySize(header);
          data = size;
          pad = (BLOCK - (size % BLOCK)) % BLOCK;
        }
        header = Buffer.alloc(0);
      }
      done(null, chunk);
    },
    flush(done) {
      // Cut inside data or inside a header: leave it to the reader to refuse. Else close the archive.
      if (data > 0 || header.length > 0 || zeros >= 2) return done();
      done(null, Buffer.alloc(pad + (2 - zeros) * BLOCK));
    },
  });
}

/** The size field of a tar header: octal, or base-256 when its first byte has the high bit. */
function entrySize(h: Buffer): number {
  const f = h.subarray(124, 136);
  if (f[0] & 0x80) {
    let n = 0;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i];
    return n;
  }
  return parseInt(f.toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
}
