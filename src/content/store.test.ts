import assert from 'node:assert/strict';
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
