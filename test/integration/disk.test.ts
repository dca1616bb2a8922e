import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOCKER, exec, TestDaemon } from './harness';

/**
 * A daemon whose data root is a small tmpfs of the test's own, filled up to
 * the brink: the daemon refuses what would write there, saying why.
 */
describe('a full data root', { timeout: 300_000 }, () => {
  const d = new TestDaemon();
  const filler = path.join(d.dataRoot, 'filler');
  before(async () => {
    fs.mkdirSync(d.dataRoot, { recursive: true });
    const m = await exec('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'berth-test-full', d.dataRoot]);
    assert.equal(m.code, 0, m.stderr);
    d.ownMounts.push(d.dataRoot);
    await d.start();
    await d.importBusybox();
  });
  // cleanup unmounts what is under the test's folder, the tmpfs too.
  after(() => d.cleanup());

  /** Fills the data root until `freeKiB` are left. */
  const fillTo = (freeKiB: number) => {
    fs.rmSync(filler, { force: true });
    const st = fs.statfsSync(d.dataRoot);
    const free = st.bavail * st.bsize;
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - freeKiB * 1024)));
  };

  test('create, run, pull and build are refused below --min-free-space (5%), naming the data root; nothing is made; with room again they work', async () => {
    fillTo(2048); // 2 MiB of 96: about 2%
    const before_ = await d.ok(['ps', '-aq']);
    const ctx = path.join(d.dir, 'ctx');
    fs.mkdirSync(ctx, { recursive: true });
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN true\n');
    const cases: [string, string[]][] = [
      ['create', ['create', 'busybox', 'true']],
      ['create', ['run', '--rm', 'busybox', 'true']],
      ['pull', ['pull', '127.0.0.1:9/nothing:1']],
      ['build', ['build', ctx]],
    ];
    for (const [what, args] of cases) {
      const r = await d.berth(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, new RegExp(`${what} refused: the data root ${d.dataRoot.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} has [\\d.]+ [KM]iB free \\([\\d.]+% of [\\d.]+ MiB\\), below the 5\\.0% it keeps`), args.join(' '));
    }
    const viaDocker = await exec(DOCKER, ['-H', d.host, 'run', '--rm', 'busybox', 'true'], { env: { DOCKER_CLI_HINTS: 'false' } });
    assert.notEqual(viaDocker.code, 0);
    assert.match(viaDocker.stderr, /create refused: the data root .* below the 5\.0% it keeps/);
    const api = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', d.socket, '-H', 'Content-Type: application/json', '-d', '{"Image":"busybox"}', 'http://x/containers/create']);
    assert.equal(api.stdout, '507');
    assert.equal(await d.ok(['ps', '-aq']), before_, 'nothing was made');
    fs.rmSync(filler);
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'room again']), 'room again');
    await d.assertClean();
  });
});
