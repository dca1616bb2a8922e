import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { exec, suiteDaemon, TestDaemon } from './harness';

describe('images and volumes', () => {
  const d = suiteDaemon();

  test('import with --change sets the config; tag, history, images, rmi', async () => {
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'busybox']), '["sh"]');
    await d.ok(['tag', 'busybox', 'mine/box:1']);
    assert.equal(await d.ok(['images', '--format', '{{.Repository}}:{{.Tag}}', 'mine/box']), 'mine/box:1');
    assert.match(await d.ok(['history', 'mine/box:1']), /IMAGE\s+CREATED/);
    assert.equal(await d.ok(['rmi', 'mine/box:1']), 'Untagged: mine/box:1');
    assert.equal((await d.berth(['rmi', 'mine/box:1'])).code, 1);
  });

  test('rmi refuses an image in use unless forced, and never for a running container', async () => {
    await d.ok(['tag', 'busybox', 'inuse']);
    await d.ok(['tag', 'busybox', 'inuse2']);
    await d.ok(['rmi', 'inuse2']);
    const id = await d.ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox']);
    await d.ok(['run', '-d', '--name', 'user', 'busybox', 'sleep', '1000']);
    const byId = await d.berth(['rmi', id]);
    assert.equal(byId.code, 1);
    assert.match(byId.stderr, /conflict: unable to delete .* must be forced|referenced in multiple repositories/);
    const forced = await d.berth(['rmi', '-f', id]);
    assert.match(forced.stderr, /\(cannot be forced\) - image is being used by running container/);
    await d.ok(['rmi', 'inuse']);
    await d.ok(['rm', '-f', 'user']);
  });

  test('save and load round-trip in docker-archive format', async () => {
    const out = path.join(d.dir, 'box.tar');
    await d.ok(['save', '-o', out, 'busybox']);
    const listing = await exec('tar', ['-tf', out]);
    assert.match(listing.stdout, /^manifest\.json$/m);
    assert.match(listing.stdout, /^[a-f0-9]{64}\/layer\.tar$/m);
    const manifest = JSON.parse((await exec('tar', ['-xOf', out, 'manifest.json'])).stdout);
    assert.deepEqual(manifest[0].RepoTags, ['busybox:latest']);

    const other = new TestDaemon();
    await other.start();
    try {
      assert.equal(await other.ok(['load', '-i', out]), 'Loaded image: busybox:latest');
      assert.equal(await other.ok(['run', '--rm', 'busybox', 'echo', 'loaded']), 'loaded');
      assert.equal(await other.ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox']), await d.ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox']));
      const bad = await other.berth(['load'], { input: 'not a tar' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /invalid archive: Unexpected end of data \(docker load reads a tar file/);
      await other.assertClean();
    } finally {
      await other.cleanup();
    }
  });

  test('named volumes persist across containers; rm -v removes anonymous ones; in-use volumes stay', async () => {
    await d.ok(['volume', 'create', 'data']);
    await d.ok(['run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    assert.equal(await d.ok(['run', '--rm', '-v', 'data:/data:ro', 'busybox', 'cat', '/data/f']), 'kept');
    assert.notEqual((await d.berth(['run', '--rm', '-v', 'data:/data:ro', 'busybox', 'touch', '/data/g'])).code, 0);
    await d.ok(['run', '-d', '--name', 'holder', '-v', 'data:/data', '-v', '/anon', 'busybox', 'sleep', '1000']);
    const rm = await d.berth(['volume', 'rm', 'data']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /volume is in use/);
    const anon = JSON.parse(await d.ok(['inspect', '-f', '{{json .Mounts}}', 'holder'])).find((m: { Destination: string }) => m.Destination === '/anon').Name;
    await d.ok(['rm', '-f', '-v', 'holder']);
    assert.deepEqual((await d.ok(['volume', 'ls', '-q'])).split('\n'), ['data']);
    assert.equal((await d.berth(['volume', 'inspect', anon])).code, 1);
    await d.ok(['volume', 'rm', 'data']);
  });

  test('bind mounts', async () => {
    const host = path.join(d.dir, 'share');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'in'), 'from host');
    assert.equal(await d.ok(['run', '--rm', '-v', `${host}:/share`, 'busybox', 'sh', '-c', 'cat /share/in; echo back > /share/out']), 'from host');
    assert.equal(fs.readFileSync(path.join(host, 'out'), 'utf8'), 'back\n');
  });

  test('logs rotate within max-size × max-file', async () => {
    await d.ok(['run', '-d', '--name', 'chatty', '--log-opt', 'max-size=20k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 4000 ]; do echo line $i; i=$((i+1)); done; sleep 2']);
    await d.ok(['wait', 'chatty']);
    const id = await d.ok(['inspect', '-f', '{{.Id}}', 'chatty']);
    const dir = path.join(d.dataRoot, 'containers', id);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('ctr.log'));
    const total = files.reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
    assert.ok(files.length <= 2, `files: ${files}`);
    assert.ok(total <= 2 * 2 * 20 * 1024, `total ${total}`);
    assert.match(await d.ok(['logs', '--tail', '1', 'chatty']), /^line 3999$/);
    await d.ok(['rm', 'chatty']);
  });

  test('nothing leaks', () => d.assertClean());
});
