import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { sha256 } from '../oci/digest';
import { ContentStore } from './store';

async function tmpStore() {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-content-'));
  return { root, store: await ContentStore.open(root) };
}

test('a committed blob is readable by its digest', async () => {
  const { root, store } = await tmpStore();
  const info = await store.put('hello');
  assert.equal(info.digest, sha256('hello'));
  assert.equal((await store.read(info.digest)).toString(), 'hello');
  await fsp.rm(root, { recursive: true });
});

test('nothing is visible before commit, and a wrong digest commits nothing', async () => {
  const { root, store } = await tmpStore();
  const w = await store.writer();
  await w.write(Buffer.from('abc'));
  assert.equal(await store.has(sha256('abc')), false);
  await assert.rejects(w.commit({ digest: sha256('abd') }), /digest mismatch/);
  assert.equal(await store.has(sha256('abc')), false);
  assert.deepEqual(await fsp.readdir(path.join(root, 'ingest')), []);
  await fsp.rm(root, { recursive: true });
});

test('size mismatch is refused', async () => {
  const { root, store } = await tmpStore();
  const w = await store.writer();
  await w.write(Buffer.from('abc'));
  await assert.rejects(w.commit({ size: 4 }), /size mismatch/);
  await fsp.rm(root, { recursive: true });
});

test('abandoned ingests are cleaned when the store opens', async () => {
  const { root, store } = await tmpStore();
  const w = await store.writer();
  await w.write(Buffer.from('partial'));
  await ContentStore.open(root);
  assert.deepEqual(await fsp.readdir(path.join(root, 'ingest')), []);
  assert.equal((await store.list()).length, 0);
  await fsp.rm(root, { recursive: true });
});

test('a named write survives a closed session and resumes where it stopped', async () => {
  const { root, store } = await tmpStore();
  const w1 = await store.writer({ ref: 'upload-1' });
  await w1.write(Buffer.from('hello '));
  await assert.rejects(store.writer({ ref: 'upload-1' }), /in progress/);
  await w1.close();
  const reopened = await ContentStore.open(root);
  const w2 = await reopened.writer({ ref: 'upload-1' });
  assert.equal(w2.written, 6);
  await w2.write(Buffer.from('world'));
  const info = await w2.commit({ digest: sha256('hello world'), size: 11 });
  assert.equal((await reopened.read(info.digest)).toString(), 'hello world');
  assert.deepEqual(await reopened.ingests(), []);
  await fsp.rm(root, { recursive: true });
});

test('sha512 digests are checked and stored under their algorithm', async () => {
  const { root, store } = await tmpStore();
  const data = Buffer.from('sha512 content');
  const d512 = 'sha512:' + createHash('sha512').update(data).digest('hex');
  const info = await store.ingest([data], { digest: d512 });
  assert.equal(info.digest, d512);
  assert.equal((await store.read(d512)).toString(), 'sha512 content');
  assert.deepEqual((await store.list()).map((b) => b.digest), [d512]);
  await assert.rejects(store.ingest([Buffer.from('other')], { digest: d512 }), /digest mismatch/);
  await fsp.rm(root, { recursive: true });
});

test('a range of a blob streams only those bytes; ingests list their state', async () => {
  const { root, store } = await tmpStore();
  const { digest } = await store.put('0123456789');
  const chunks: Buffer[] = [];
  for await (const c of await store.stream(digest, { start: 2, end: 5 })) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), '2345');
  const w = await store.writer({ ref: 'x' });
  await w.write(Buffer.from('abc'));
  const [ing] = await store.ingests();
  assert.deepEqual([ing.ref, ing.resumable, ing.size, ing.active], ['x', true, 3, true]);
  await assert.rejects(store.removeIngest('x'), /in progress/);
  await w.abort();
  assert.deepEqual(await store.ingests(), []);
  await assert.rejects(store.writer({ ref: '../escape' }), /invalid content write reference/);
  await fsp.rm(root, { recursive: true });
});
