import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, DOCKER, exec, TestDaemon } from './harness';

/** A daemon whose data root is a tmpfs of the test's own (cleanup unmounts it with the rest under the test's folder). */
function onTmpfs(d: TestDaemon, size: string, name: string): void {
  before(async () => {
    fs.mkdirSync(d.dataRoot, { recursive: true });
    const m = await exec('mount', ['-t', 'tmpfs', '-o', `size=${size}`, name, d.dataRoot]);
    assert.equal(m.code, 0, m.stderr);
    d.ownMounts.push(d.dataRoot);
    await d.start();
    await d.importBusybox();
  });
  after(() => d.cleanup());
}

/**
 * A daemon whose data root is a small tmpfs of the test's own, filled up to
 * the brink: the daemon refuses what would write there, saying why.
 */
describe('a full data root', { timeout: 300_000 }, () => {
  const d = new TestDaemon();
  const filler = path.join(d.dataRoot, 'filler');
  onTmpfs(d, '96m', 'berth-test-full');

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

/**
 * --storage-opt size: the writable layer on a vdisk of that size (a sparse
 * ext4 file, loop-mounted), on a data root of the test's own (a tmpfs), so
 * what the host's disk gives up can be measured.
 */
describe('a sized writable layer (--storage-opt size)', { timeout: 300_000 }, () => {
  const d = new TestDaemon();
  const loopsOf = async () => (await exec('losetup', ['-a'])).stdout.split('\n').filter((l) => l.includes(d.dir));
  const free = () => {
    const st = fs.statfsSync(d.dataRoot);
    return st.bavail * st.bsize;
  };
  onTmpfs(d, '256m', 'berth-test-sized');

  test('a container that fills its layer gets ENOSPC; the host gives up no more than the size', async () => {
    const before_ = free();
    const r = await d.berth(['run', '--name', 'filler', '--storage-opt', 'size=32m', 'busybox', 'sh', '-c', 'df -k / | tail -1; dd if=/dev/zero of=/big bs=1M count=64']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /No space left on device/);
    const total = Number(r.stdout.trim().split(/\s+/)[1]);
    assert.ok(total > 16 * 1024 && total <= 32 * 1024, `df inside shows the layer's size (${total} KiB)`);
    const given = before_ - free();
    assert.ok(given <= 33 * 1024 * 1024, `the data root gave up ${given} bytes for a 32 MiB layer`);
    assert.equal(await d.ok(['inspect', '-f', '{{json .HostConfig.StorageOpt}}', 'filler']), '{"size":"32m"}');
    // What it holds is its size as ps -s and system df count it.
    const size = await d.ok(['ps', '-a', '-s', '--filter', 'name=filler', '--format', '{{.Size}}']);
    assert.match(size, /^(2\d|3\d)(\.\d+)?MB \(virtual/);
    await d.ok(['rm', 'filler']);
    assert.deepEqual(await loopsOf(), [], 'the loop device went with the container');
  });

  test('the layer keeps its files across a daemon restart, commits, and goes with its container', async () => {
    await d.ok(['run', '-d', '--name', 'keeper', '--storage-opt', 'size=20m', 'busybox', 'sh', '-c', 'echo kept > /note; exec sleep 1000']);
    await d.stop();
    await d.start();
    assert.equal(await d.ok(['exec', 'keeper', 'cat', '/note']), 'kept');
    assert.equal((await loopsOf()).length, 1);
    await d.ok(['commit', 'keeper', 'kept:1']);
    assert.equal(await d.ok(['run', '--rm', 'kept:1', 'cat', '/note']), 'kept');
    // The vdisk's mount is the snapshotter's: the check sees nothing astray.
    assert.match(await d.ok(['system', 'check']), /No problems found/);
    await d.ok(['rm', '-f', 'keeper']);
    await d.ok(['rmi', 'kept:1']);
    assert.deepEqual(await loopsOf(), []);
    await d.assertClean();
  });

  test('bad sizes and unknown options are refused with docker\'s words, and nothing is made', async () => {
    const n = (await d.ok(['ps', '-aq'])).split('\n').filter(Boolean).length;
    for (const [opt, message] of [['size=1m', /cannot be smaller than 16MiB/], ['foo=1', /Unknown option foo/], ['size=lots', /a size such as 10G/], ['size', /invalid storage option "size"/]] as const) {
      const r = await d.berth(['create', '--storage-opt', opt, 'busybox', 'true']);
      assert.equal(r.code, 125, opt);
      assert.match(r.stderr, message);
    }
    const res = await api(d, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { StorageOpt: { size: '1k' } } });
    assert.equal(res.status, 400, res.body);
    assert.equal((await d.ok(['ps', '-aq'])).split('\n').filter(Boolean).length, n);
    assert.deepEqual(await loopsOf(), []);
  });
});

/**
 * Block I/O counted on a disk no throttle rule was set on: on cgroup v1,
 * kernels since 6.10 count it only once blk-throttle is on for the disk, so
 * the daemon sets a rule that limits nothing. The data root is an ext4 loop
 * device of the test's own (mount's autoclear frees it at the unmount).
 */
describe('block I/O in stats on a fresh disk', { timeout: 300_000 }, () => {
  const d = new TestDaemon();
  before(async () => {
    const img = path.join(d.dir, 'disk.img');
    fs.mkdirSync(d.dataRoot, { recursive: true });
    for (const [cmd, args] of [['truncate', ['-s', '512M', img]], ['mkfs.ext4', ['-q', img]], ['mount', ['-o', 'loop', img, d.dataRoot]]] as const) {
      const r = await exec(cmd, [...args]);
      assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    }
    d.ownMounts.push(d.dataRoot);
    await d.start();
    await d.importBusybox();
  });
  after(() => d.cleanup());

  test("a container's writes show in its stats, through the API and the docker CLI", async () => {
    const id = await d.ok(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/f bs=1M count=4 conv=fsync 2>/dev/null; touch /done; sleep 1000']);
    for (let i = 0; i < 100 && (await d.berth(['exec', id, 'test', '-e', '/done'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const s = JSON.parse((await api(d, 'GET', `/v1.41/containers/${id}/stats?stream=0`)).body) as { blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null } };
    const written = (s.blkio_stats.io_service_bytes_recursive ?? []).filter((e) => e.op.toLowerCase() === 'write').reduce((a, e) => a + e.value, 0);
    assert.ok(written >= 4 << 20, `${written} bytes written`);
    const docker = await exec(DOCKER, ['-H', d.host, 'stats', '--no-stream', '--format', '{{.BlockIO}}', id], { env: { DOCKER_CLI_HINTS: 'false' } });
    assert.match(docker.stdout.trim(), /^[\d.]+[kMG]?B \/ [4-9][\d.]*MB$/);
    await d.ok(['rm', '-f', id]);
    await d.assertClean();
  });
});
