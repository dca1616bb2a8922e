import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { api, busyboxTar, countEntries, suiteDaemon } from './harness';

const MiB = 1 << 20;

interface Df {
  LayersSize: number;
  Images: { Id: string; Size: number; Containers: number }[];
  Containers: { Id: string; SizeRw: number }[];
  Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
}

describe('system df and prune', () => {
  const d = suiteDaemon();
  const df = async () => JSON.parse((await api(d, 'GET', '/system/df')).body) as Df;

  test('system df reports what containers, volumes and images really use', async () => {
    const id = await d.ok(['run', '-d', '-v', 'dfvol:/vol', 'busybox', 'sh', '-c', 'head -c 3145728 /dev/urandom > /big; head -c 2097152 /dev/urandom > /vol/data; sleep 1000']);
    await d.ok(['exec', id, 'sh', '-c', 'while [ ! -s /vol/data ] || [ $(wc -c < /vol/data) -lt 2097152 ]; do sleep 0.1; done']);
    const r = await df();
    const rw = r.Containers.find((c) => c.Id === id)!.SizeRw;
    assert.ok(rw >= 3 * MiB && rw < 4 * MiB, `container writable layer: ${rw}`);
    const vol = r.Volumes.find((v) => v.Name === 'dfvol')!;
    assert.ok(vol.UsageData.Size >= 2 * MiB && vol.UsageData.Size < 3 * MiB, `volume: ${vol.UsageData.Size}`);
    assert.equal(vol.UsageData.RefCount, 1);
    const busybox = r.Images.find((i) => i.Containers === 1)!;
    // The layer holds busybox-static: more than a MiB, and what the layers total.
    assert.ok(busybox.Size > MiB && r.LayersSize >= busybox.Size, `image ${busybox.Size}, layers ${r.LayersSize}`);
    const table = await d.ok(['system', 'df']);
    assert.match(table, /^Containers\s+1\s+1\s+3\.\d+MB/m);
    assert.match(table, /^Local Volumes\s+1\s+1\s+2\.\d+MB/m);
    await d.ok(['rm', '-f', id]);
    await d.ok(['volume', 'rm', 'dfvol']);
  });

  test('container prune removes stopped containers and keeps running ones', async () => {
    const running = await d.ok(['run', '-d', 'busybox', 'sleep', '1000']);
    const stopped = await d.ok(['run', '-d', 'busybox', 'sh', '-c', 'head -c 1048576 /dev/zero > /f']);
    const created = await d.ok(['create', '--label', 'keep=no', 'busybox']);
    await d.ok(['wait', stopped]);
    const r = JSON.parse((await api(d, 'POST', '/containers/prune')).body) as { ContainersDeleted: string[]; SpaceReclaimed: number };
    assert.deepEqual(r.ContainersDeleted.sort(), [stopped, created].sort());
    assert.ok(r.SpaceReclaimed >= MiB, `reclaimed ${r.SpaceReclaimed}`);
    assert.deepEqual((await d.ok(['ps', '-aq', '--no-trunc'])).split('\n'), [running]);
    await d.ok(['rm', '-f', running]);
  });

  test('container prune --filter label= prunes only the matching ones', async () => {
    const a = await d.ok(['create', '--label', 'tier=web', 'busybox']);
    const b = await d.ok(['create', '--label', 'tier=db', 'busybox']);
    const out = await d.ok(['container', 'prune', '-f', '--filter', 'label=tier=web']);
    assert.match(out, new RegExp(a));
    assert.deepEqual((await d.ok(['ps', '-aq', '--no-trunc'])).split('\n'), [b]);
    await d.ok(['rm', b]);
  });

  test('image prune removes dangling images; -a also unused tagged ones; an image in use stays', async () => {
    const before = countEntries(d.dataRoot);
    const dangling = (await d.ok(['import', '--change', 'ENV A=1', busyboxTar()])).trim();
    await d.ok(['import', '--change', 'ENV B=1', busyboxTar(), 'unused:1']);
    await d.ok(['import', '--change', 'ENV C=1', '--change', 'CMD ["sh"]', busyboxTar(), 'used:1']);
    const user = await d.ok(['create', 'used:1']);
    const bbUser = await d.ok(['create', 'busybox']);
    const out = await d.ok(['image', 'prune', '-f']);
    assert.match(out, new RegExp(`deleted: ${dangling}`));
    let names = await d.ok(['images', '--format', '{{.Repository}}']);
    assert.match(names, /^unused$/m);
    await d.ok(['image', 'prune', '-a', '-f']);
    names = await d.ok(['images', '--format', '{{.Repository}}']);
    assert.doesNotMatch(names, /^unused$/m);
    assert.match(names, /^used$/m);
    assert.match(names, /^busybox$/m);
    await d.ok(['rm', user, bbUser]);
    await d.ok(['rmi', 'used:1']);
    // Their configs and manifests went with them (the layer is busybox's own).
    assert.equal(countEntries(d.dataRoot), before);
    assert.equal(await d.ok(['system', 'check']), 'No problems found.');
  });

  test('volume prune removes unused anonymous volumes; --all also named ones; used ones stay', async () => {
    const anon = await d.ok(['create', '-v', '/data', 'busybox']);
    const anonVol = await d.ok(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', anon]);
    await d.ok(['rm', anon]);
    await d.ok(['volume', 'create', 'named']);
    const holder = await d.ok(['create', '-v', 'held:/x', 'busybox']);
    let out = await d.ok(['volume', 'prune', '-f']);
    assert.match(out, new RegExp(anonVol));
    assert.deepEqual((await d.ok(['volume', 'ls', '-q'])).split('\n').sort(), ['held', 'named']);
    out = await d.ok(['volume', 'prune', '-f', '--all']);
    assert.match(out, /^named$/m);
    assert.deepEqual((await d.ok(['volume', 'ls', '-q'])).split('\n'), ['held']);
    await d.ok(['rm', holder]);
    await d.ok(['volume', 'rm', 'held']);
  });

  test('system prune removes stopped containers and dangling images, and with --volumes unused anonymous volumes', async () => {
    const stopped = await d.ok(['create', '-v', '/data', 'busybox']);
    const dangling = (await d.ok(['import', '--change', 'ENV D=1', busyboxTar()])).trim();
    const out = await d.ok(['system', 'prune', '-f', '--volumes']);
    assert.match(out, new RegExp(stopped));
    assert.match(out, new RegExp(dangling));
    assert.equal(await d.ok(['ps', '-aq']), '');
    assert.equal(await d.ok(['volume', 'ls', '-q']), '');
    assert.doesNotMatch(await d.ok(['images', '-q', '--no-trunc']), new RegExp(dangling));
  });

  test('an image whose manifest is damaged stops a prune before anything goes, and system check names it', async () => {
    await d.ok(['import', '--change', 'LABEL which=damaged', busyboxTar(), 'damaged:1']);
    await d.ok(['import', '--change', 'LABEL which=dangling', busyboxTar()]);
    const id = await d.ok(['image', 'inspect', '-f', '{{.Id}}', 'damaged:1']);
    const record = JSON.parse(fs.readFileSync(path.join(d.dataRoot, 'images', `${id.slice('sha256:'.length)}.json`), 'utf8')) as { manifest: { digest: string } };
    const digest = record.manifest.digest;
    const blob = path.join(d.dataRoot, 'content', 'blobs', 'sha256', digest.slice('sha256:'.length));
    const body = fs.readFileSync(blob);
    fs.writeFileSync(blob, 'damaged');
    const layersBefore = fs.readdirSync(path.join(d.dataRoot, 'snapshots')).length;
    const prune = await d.berth(['image', 'prune', '-f']);
    assert.notEqual(prune.code, 0);
    assert.match(prune.stderr, new RegExp(`content ${digest}: not valid JSON .*damaged`));
    assert.equal(fs.readdirSync(path.join(d.dataRoot, 'snapshots')).length, layersBefore, 'no layer went');
    const check = await d.berth(['system', 'check']);
    assert.match(check.stdout, new RegExp(`image record without its manifest ${digest} \\(unreadable\\)`));
    fs.writeFileSync(blob, body);
    assert.equal((await d.berth(['image', 'prune', '-f'])).code, 0);
    await d.ok(['rmi', 'damaged:1']);
  });

  test('nothing leaks', () => d.assertClean());
});
