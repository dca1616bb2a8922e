import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { invalidArgument } from '../base/errors';
import type { Digest } from '../oci/digest';
import { applyLayer } from '../snapshots/apply';

/**
 * Unpacks a layer blob (a tar, plain or gzip: told by its first bytes, so a
 * mislabelled media type does no harm) into an upper folder as it streams;
 * returns the digest of the uncompressed tar, its diff id.
 */
export async function unpackLayer(blob: Readable, dir: string, mediaType: string): Promise<Digest> {
  if (/zstd/.test(mediaType)) throw invalidArgument(`layer media type ${mediaType}: zstd layers are not supported`);
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const tar = sniffGzip(blob).pipe(hasher);
  await applyLayer(dir, tar);
  return 'sha256:' + hash.digest('hex');
}

/** The stream, gunzipped when it starts with gzip's magic. */
function sniffGzip(src: Readable): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  (async () => {
    const it = src[Symbol.asyncIterator]();
    let head = Buffer.alloc(0);
    let next: IteratorResult<Buffer> | undefined;
    while (head.length < 2 && !(next = await it.next()).done) head = Buffer.concat([head, next.value]);
    const rest = Readable.from(
      (async function* () {
        if (head.length) yield head;
        for (;;) {
          const n = await it.next();
          if (n.done) return;
          yield n.value as Buffer;
        }
      })(),
    );
    if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(rest, createGunzip({ chunkSize: 256 << 10 }), out);
    else await pipeline(rest, out);
  })().catch((e) => out.destroy(e));
  return out;
}
