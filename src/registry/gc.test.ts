import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { ContentStore } from '../content/store';
import { collectGarbage, type GcOptions } from './gc';
import { Repositories } from './repositories';
import { Uploads } from './uploads';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function registry() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gc-'));
  dirs.push(root);
  const repos = new Repositories(path.join(root, 'repositories'), await ContentStore.open(path.join(root, 'content')));
  return { repos, uploads: new Uploads(repos), blobDir: path.join(root, 'content', 'blobs', 'sha256') };
}

/** A push's first half: its config and layer sent and linked, as before the manifest comes. */
async function sendBlobs(repos: Repositories, name: string, text: string) {
  const descriptor = async (mediaType: string, body: string) => {
    const info = await repos.content.ingest([Buffer.from(body)]);
    await repos.linkBlob(name, info.digest);
    return { mediaType, digest: info.digest, size: info.size };
  };
  const config = await descriptor('application/vnd.oci.image.config.v1+json', JSON.stringify({ text }));
  const layer = await descriptor('application/vnd.oci.image.layer.v1.tar', `layer of ${text}`);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }));
  return { blobs: [config.digest, layer.digest], putManifest: () => repos.putManifest(name, 'latest', manifest, undefined) };
}

/** Moves a blob's last touch into the past, as for blobs sent a while before the collection. */
function age(blobDir: string, digests: string[]) {
  const past = new Date(Date.now() - 60_000);
  for (const d of digests) fs.utimesSync(path.join(blobDir, d.slice('sha256:'.length)), past, past);
}

const NO_GRACE: GcOptions = { graceMs: 0, uploadTtlMs: 3600_000, deleteUntagged: false, dryRun: false };

test('a manifest that lands between the mark and the sweep keeps its blobs, which were sent before the collection began', async () => {
  const { repos, uploads, blobDir } = await registry();
  const push = await sendBlobs(repos, 'race/app', 'in flight');
  const abandoned = await sendBlobs(repos, 'race/left', 'never finished');
  age(blobDir, [...push.blobs, ...abandoned.blobs]);
  // The race, made to happen: the manifest comes while the mark reads the repositories.
  let landed = false;
  const manifests = repos.manifests.bind(repos);
  repos.manifests = async (name) => {
    const seen = await manifests(name);
    if (!landed) {
      landed = true;
      await push.putManifest();
    }
    return seen;
  };
  const report = await collectGarbage(repos, uploads, NO_GRACE);
  assert.ok(landed);
  assert.equal((await repos.manifests('race/app')).length, 1, 'the manifest landed after the mark had listed the repository');
  for (const b of push.blobs) assert.ok(await repos.content.has(b), `the landed manifest's ${b} is kept`);
  for (const b of abandoned.blobs) assert.ok(!(await repos.content.has(b)), `the abandoned push's ${b} goes`);
  // Kept as recent: the push's config and layer (its manifest touched them) and the manifest itself.
  assert.deepEqual([report.blobs, report.recent, report.failed], [2, 3, []]);
  await repos.resolve('race/app', 'latest');
});

test('a push whose manifest never comes loses its blobs to a collection with no grace, and keeps them within the grace', async () => {
  const { repos, uploads, blobDir } = await registry();
  const push = await sendBlobs(repos, 'slow/app', 'slow');
  age(blobDir, push.blobs);
  const graced = await collectGarbage(repos, uploads, { ...NO_GRACE, graceMs: 120_000 });
  assert.deepEqual([graced.blobs, graced.recent], [0, 2]);
  const none = await collectGarbage(repos, uploads, NO_GRACE);
  assert.deepEqual([none.blobs, none.recent], [2, 0]);
  await assert.rejects(push.putManifest(), /blob unknown/);
});

test('a manifest pushed again between the mark and the sweep, its blob still there from before, is kept whole', async () => {
  const { repos, uploads, blobDir } = await registry();
  const push = await sendBlobs(repos, 'again/app', 'again');
  const { digest } = await push.putManifest();
  await repos.deleteManifest('again/app', digest);
  age(blobDir, [...push.blobs, digest]);
  const manifests = repos.manifests.bind(repos);
  repos.manifests = async (name) => {
    const seen = await manifests(name);
    await push.putManifest();
    return seen;
  };
  const report = await collectGarbage(repos, uploads, NO_GRACE);
  assert.deepEqual([report.blobs, report.recent], [0, 3]);
  assert.equal((await repos.resolve('again/app', 'latest')).digest, digest);
  for (const b of [digest, ...push.blobs]) assert.ok(await repos.content.has(b), `${b} is kept`);
});
