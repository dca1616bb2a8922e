import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exec, type Result } from './harness';
import { errorCode, pushBlob, pushImage, TestRegistry } from './registry-harness';

const BERTH = path.resolve(__dirname, '../../../bin/berth');

describe('registry: garbage collection', () => {
  const reg = new TestRegistry();
  const gc = (args: string[]): Promise<Result> => exec(BERTH, ['registry', 'gc', '--root', reg.root, ...args]);
  before(() => reg.start());
  after(() => reg.cleanup());

  test('unreferenced blobs and stale uploads go; what manifests reference stays; a dry run and the grace spare all', async () => {
    const kept = await pushImage(reg, 'gc/app', 'v1', 'kept', 2);
    const dropped = await pushImage(reg, 'gc/app', 'v2', 'dropped', 2);
    assert.equal((await reg.request('DELETE', `/v2/gc/app/manifests/${dropped.digest}`)).status, 202);
    const orphan = await pushBlob(reg, 'gc/other', 'never referenced');
    const session = await reg.request('POST', '/v2/gc/app/blobs/uploads/');
    await reg.request('PATCH', session.headers.location!, { body: 'abandoned bytes' });
    const all = reg.blobs();

    const dry = await gc(['--dry-run', '--grace', '0s', '--upload-ttl', '0s']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would remove 5 blobs \(\d+ bytes\), 0 manifests, 0 dangling links, 1 stale uploads/);
    assert.deepEqual(reg.blobs(), all);
    assert.match((await gc([])).stdout, /^removed 0 blobs/, 'the default grace spares blobs pushed in the last hour');

    const run = await gc(['--grace', '0s', '--upload-ttl', '0s']);
    assert.match(run.stdout, /^removed 5 blobs \(\d+ bytes\), 0 manifests, 4 dangling links, 1 stale uploads/);
    const left = reg.blobs();
    for (const b of [kept.digest, ...kept.blobs]) assert.ok(left.includes(b), `kept ${b}`);
    for (const b of [dropped.digest, ...dropped.blobs, orphan]) assert.ok(!left.includes(b), `dropped ${b}`);
    assert.deepEqual(reg.ingests(), []);
    assert.equal(errorCode(await reg.request('GET', session.headers.location!)), '404 BLOB_UPLOAD_UNKNOWN');
    assert.equal(errorCode(await reg.request('HEAD', `/v2/gc/other/blobs/${orphan}`)), '404');
    for (const b of kept.blobs) assert.equal((await reg.request('GET', `/v2/gc/app/blobs/${b}`)).status, 200);
    assert.equal((await reg.request('GET', '/v2/gc/app/manifests/v1')).status, 200);
  });

  test('with the server stopped, gc runs on its own; --delete-untagged takes manifests no tag reaches', async () => {
    const tagged = await pushImage(reg, 'gc/untag', 'keep', 'tagged');
    const untagged = await pushImage(reg, 'gc/untag', 'gone', 'untagged');
    assert.equal((await reg.request('DELETE', '/v2/gc/untag/manifests/gone')).status, 202);
    await reg.stop();
    const run = await gc(['--grace', '0s', '--delete-untagged']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^removed 3 blobs \(\d+ bytes\), 1 manifests/);
    await reg.start();
    assert.equal((await reg.request('GET', `/v2/gc/untag/manifests/${untagged.digest}`)).status, 404);
    assert.equal((await reg.request('GET', `/v2/gc/untag/manifests/${tagged.digest}`)).status, 200);
  });

  test('pushes racing a collector with no grace fail cleanly or land whole; with a grace they all land', async () => {
    let stop = false;
    let sweeps = 0;
    // Unreferenced blobs a sweep kept because a push touched them after its collection began: the race, seen from gc.
    let keptInFlight = 0;
    const collector = (async () => {
      while (!stop) {
        const r = await gc(['--grace', '0s']);
        assert.equal(r.code, 0, r.stderr);
        keptInFlight += Number(/kept (\d+) unreferenced blobs as recent/.exec(r.stdout)?.[1]);
        sweeps++;
      }
    })();
    const outcomes: string[] = [];
    // Until the race has happened both ways (a push refused, a push's blobs kept in flight), at least 12 pushes, at most 200.
    for (let i = 0; i < 200 && (i < 12 || !outcomes.includes('refused') || !keptInFlight); i++) {
      try {
        await pushImage(reg, 'race/app', `t${i}`, `race ${i}`, 3);
        outcomes.push('ok');
      } catch (e) {
        assert.match(String(e), /MANIFEST_BLOB_UNKNOWN/);
        outcomes.push('refused');
      }
    }
    stop = true;
    await collector;
    assert.ok(sweeps > 0);
    assert.ok(outcomes.includes('refused') && keptInFlight > 0, `the race did not happen: ${outcomes.length} pushes, ${sweeps} sweeps, ${keptInFlight} blobs kept in flight`);
    // A last sweep takes what refused pushes left; whatever landed is whole: every blob its manifest names is there.
    assert.equal((await gc(['--grace', '0s'])).code, 0);
    for (const tag of (await reg.request('GET', '/v2/race/app/tags/list')).json().tags as string[]) {
      const m = (await reg.request('GET', `/v2/race/app/manifests/${tag}`)).json();
      for (const d of [m.config.digest, ...m.layers.map((l: { digest: string }) => l.digest)]) assert.equal((await reg.request('HEAD', `/v2/race/app/blobs/${d}`)).status, 200, `${tag}: ${d}`);
    }

    stop = false;
    const graced = (async () => {
      while (!stop) assert.equal((await gc(['--grace', '60s'])).code, 0);
    })();
    for (let i = 0; i < 8; i++) await pushImage(reg, 'race/graced', `t${i}`, `graced ${i}`, 3);
    stop = true;
    await graced;
    assert.equal(((await reg.request('GET', '/v2/race/graced/tags/list')).json().tags as string[]).length, 8);
  });

  test('a manifest the mark cannot read stops the collection before anything goes; a blob that will not go is said, not counted', async () => {
    const img = await pushImage(reg, 'gc/broken', 'v1', 'broken', 2);
    const orphan = await pushBlob(reg, 'gc/broken', 'an orphan');
    const file = (d: string) => path.join(reg.root, 'content', 'blobs', 'sha256', d.slice('sha256:'.length));
    const manifest = fs.readFileSync(file(img.digest));
    fs.writeFileSync(file(img.digest), 'not a manifest');
    const before_ = reg.blobs();
    const stopped = await gc(['--grace', '0s']);
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, new RegExp(`stopped before deleting anything: 1 manifest\\(s\\) cannot be read.*gc/broken@${img.digest}`));
    assert.deepEqual(reg.blobs(), before_, 'nothing deleted: the broken manifest may need any blob');
    fs.writeFileSync(file(img.digest), manifest);
    // A blob whose removal fails (here a folder where its file was): reported, not counted; the others go.
    fs.rmSync(file(orphan));
    fs.mkdirSync(path.join(file(orphan), 'x'), { recursive: true });
    const other = await pushBlob(reg, 'gc/broken', 'another orphan');
    const run = await gc(['--grace', '0s']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`not removed: blob ${orphan}: `));
    assert.match(run.stdout, /^removed 1 blobs/);
    assert.ok(!reg.blobs().includes(other));
    for (const b of [img.digest, ...img.blobs]) assert.ok(reg.blobs().includes(b), `kept ${b}`);
    fs.rmSync(file(orphan), { recursive: true });
  });

  test('bad flags are refused', async () => {
    const r = await gc(['--grace', 'soon']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--grace: invalid duration/);
    const notRoot = await exec(BERTH, ['registry', 'gc', '--root', reg.dir + '/nothing']);
    assert.match(notRoot.stderr, /is not a registry root/);
  });
});
