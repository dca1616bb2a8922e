import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, DOCKER, exec, PrivateDockerd, TestDaemon } from './harness';

const hasDockerd = spawnSync('sh', ['-c', 'command -v dockerd']).status === 0;

/** Archives move both ways between Berth and a real dockerd (Debian's docker.io, 20.10). */
describe('docker save/load interoperability', { skip: !hasDockerd && 'dockerd is not installed' }, () => {
  const d = new TestDaemon();
  const dockerd = new PrivateDockerd();
  const docker = (args: string[]) => exec(DOCKER, ['-H', dockerd.host, ...args]);
  const dok = async (args: string[]) => {
    const r = await docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    await d.start();
    await d.importBusybox();
    await dockerd.start();
  });

  after(async () => {
    await dockerd.cleanup();
    await d.cleanup();
  });

  test('an archive made by docker loads and runs in Berth', async () => {
    await dok(['import', '-c', 'CMD ["sh"]', busyboxTar(), 'fromdocker:1']);
    const tar = path.join(d.dir, 'fromdocker.tar');
    await dok(['save', '-o', tar, 'fromdocker:1']);
    assert.equal(await d.ok(['load', '-i', tar]), 'Loaded image: fromdocker:1');
    assert.equal(await d.ok(['run', '--rm', 'fromdocker:1', 'echo', 'made by docker']), 'made by docker');
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'fromdocker:1']), '["sh"]');
  });

  test('an archive Berth saves loads and runs in docker', async () => {
    await d.ok(['tag', 'busybox', 'fromberth:2']);
    const tar = path.join(d.dir, 'fromberth.tar');
    await d.ok(['save', '-o', tar, 'fromberth:2']);
    assert.match(await dok(['load', '-i', tar]), /Loaded image: fromberth:2/);
    assert.equal(await dok(['run', '--rm', '--network', 'none', 'fromberth:2', 'echo', 'made by berth']), 'made by berth');
    await dok(['rmi', 'fromberth:2', 'fromdocker:1']);
  });

  test('nothing leaks', () => d.assertClean());
});
