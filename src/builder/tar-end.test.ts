import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import * as tar from 'tar-stream';
import { completeTarEnd } from './tar-end';

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function entries(buf: Buffer, chunk = 100): Promise<Record<string, string>> {
  const extract = tar.extract();
  const parts = Array.from({ length: Math.ceil(buf.length / chunk) }, (_x, i) => buf.subarray(i * chunk, (i + 1) * chunk));
  Readable.from(parts).pipe(completeTarEnd()).pipe(extract);
  const out: Record<string, string> = {};
  for await (const e of extract) {
    const c: Buffer[] = [];
    for await (const x of e) c.push(x as Buffer);
    out[e.header.name] = Buffer.concat(c).toString();
  }
  return out;
}

test("a tar without its end (docker's CLI with -f outside the context) is read whole; one cut inside data is still refused", async () => {
  const files = { 'in.txt': 'in\n', '.dockerfile.abc': 'FROM busybox\n', '.dockerignore': 'x'.repeat(700) };
  const whole = await tarOf(files);
  assert.deepEqual(await entries(whole), files);
  // Cut right after the last entry's data: no padding, no end blocks.
  const lastData = whole.length - 1024 - ((512 - (700 % 512)) % 512);
  assert.deepEqual(await entries(whole.subarray(0, lastData), 7), files);
  // Cut after the padding, before the end blocks; after one end block.
  assert.deepEqual(await entries(whole.subarray(0, whole.length - 1024)), files);
  assert.deepEqual(await entries(whole.subarray(0, whole.length - 512)), files);
  await assert.rejects(entries(whole.subarray(0, lastData - 10)), /Unexpected end|end of data/i);
});
