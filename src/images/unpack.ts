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
 * returns the digest of the uncompressed tar, its diff id. An error of the
 * blob's stream ends the unpacking with it.
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
  const tar = new PassThrough({ highWaterMark: 1 << 20 });
  // One pipeline, so an error anywhere destroys every stream, the tar reader's included.
  const feeding = (async () => {
    const it = blob[Symbol.asyncIterator]();
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
    if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(rest, createGunzip({ chunkSize: 256 << 10 }), hasher, tar);
    else await pipeline(rest, hasher, tar);
  })();
  feeding.catch((e) => tar.destroy(e));
  await Promise.all([applyLayer(dir, tar), feeding]);
  return 'sha256:' + hash.digest('hex');
}
