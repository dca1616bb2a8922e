import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import { api, cgroupFile, DOCKER, exec, HAS_DOCKERD, suiteDaemon, suiteDockerd } from './harness';
import { blkioThrottle, blkioWeight, cgroupV2, hostCpus, hybridWithControllers, someBlockDevice, swapLimit } from './host-offers';

const WEIGHT_DISCARDED = 'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.';

/** The WARNING lines a docker-style CLI printed. */
const warningsIn = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('WARNING: '));

/**
 * Each test asks the kernel's own files what this machine offers and
 * asserts what is due on it: applied and read back from the cgroup, or
 * discarded with docker's warning.
 */
describe('hosts differ: options the host lacks are discarded as dockerd discards them', () => {
  const d = suiteDaemon();

  test('--blkio-weight: applied and read back where a proportional scheduler exists, else docker\'s warning and 0', async () => {
    const r = await d.berth(['run', '-d', '--name', 'bw', '--blkio-weight', '300', 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const up = await d.berth(['update', '--blkio-weight', '400', 'bw']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, 'bw\n', 'update prints the names only; warnings go to stderr');
    if (blkioWeight()) {
      assert.deepEqual(warningsIn(r.stderr), []);
      const dir = cgroupFile(d.cgroupParent, id, 'blkio', '', '').replace(/\/$/, '');
      const file = ['blkio.weight', 'blkio.bfq.weight', 'io.bfq.weight', 'io.weight'].map((f) => `${dir}/${f}`).find((f) => fs.existsSync(f))!;
      assert.equal(fs.readFileSync(file, 'utf8').trim().split(/\s+/).pop(), '400');
      assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.BlkioWeight}}', 'bw']), '400');
    } else {
      assert.deepEqual(warningsIn(r.stderr), [`WARNING: ${WEIGHT_DISCARDED}`]);
      assert.deepEqual(warningsIn(up.stderr), [`WARNING: ${WEIGHT_DISCARDED}`]);
      assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.BlkioWeight}}', 'bw']), '0', 'inspect shows the value in force');
    }
    // The README's line, as a new user types it.
    const once = await d.berth(['run', '--rm', '--blkio-weight', '300', 'busybox', 'true']);
    assert.equal(once.code, 0, once.stderr);
    assert.equal(warningsIn(once.stderr).length, blkioWeight() ? 0 : 1);
    await d.ok(['rm', '-f', 'bw']);
  });

  test('per-device I/O limits: written as major:minor into the throttle files, or discarded with a warning', async (t) => {
    const dev = someBlockDevice();
    if (!dev) return t.skip('no block device in /dev');
    const r = await d.berth(['run', '-d', '--device-read-bps', `${dev.path}:1mb`, '--device-write-iops', `${dev.path}:100`, 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const inspect = JSON.parse(await d.ok(['inspect', '-f', '{{json .HostConfig.BlkioDeviceReadBps}}', id]));
    if (blkioThrottle()) {
      assert.deepEqual(warningsIn(r.stderr), []);
      assert.deepEqual(inspect, [{ Path: dev.path, Rate: 1 << 20 }]);
      const read = (v1: string) => fs.readFileSync(cgroupFile(d.cgroupParent, id, 'blkio', v1, 'io.max'), 'utf8');
      if (!cgroupV2) {
        assert.match(read('blkio.throttle.read_bps_device'), new RegExp(`^${dev.numbers} ${1 << 20}$`, 'm'));
        assert.match(read('blkio.throttle.write_iops_device'), new RegExp(`^${dev.numbers} 100$`, 'm'));
      } else assert.match(read(''), new RegExp(`^${dev.numbers} rbps=${1 << 20} .*wiops=100`, 'm'));
    } else {
      assert.equal(warningsIn(r.stderr).length, 2);
      assert.deepEqual(inspect, []);
    }
    // Not a block device: refused before anything is made, with docker's status.
    const before = await d.ok(['ps', '-aq']);
    const bad = await api(d, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { BlkioDeviceReadBps: [{ Path: '/dev/null', Rate: 1 }] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /\/dev\/null is not a block device/);
    const flag = await d.berth(['run', '--device-read-bps', 'sda:1mb', 'busybox', 'true']);
    assert.equal(flag.code, 125);
    assert.match(flag.stderr, /bad format for device path: sda:1mb/);
    assert.equal(await d.ok(['ps', '-aq']), before);
    await d.ok(['rm', '-f', id]);
  });

  test("a memory limit: swap twice as large where swap is accounted (docker's default), else -1 with docker's warning", async () => {
    const r = await d.berth(['run', '-d', '-m', '32m', 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const swap = await d.ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', id]);
    if (swapLimit()) {
      assert.equal(swap, `${32 << 20} ${64 << 20}`);
      assert.deepEqual(warningsIn(r.stderr), []);
      const file = cgroupFile(d.cgroupParent, id, 'memory', 'memory.memsw.limit_in_bytes', 'memory.swap.max');
      // v1 counts memory and swap together; v2 counts the swap alone.
      assert.equal(fs.readFileSync(file, 'utf8').trim(), String(cgroupV2 ? 32 << 20 : 64 << 20));
    } else {
      assert.equal(swap, `${32 << 20} -1`);
      assert.deepEqual(warningsIn(r.stderr), ['WARNING: Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.']);
    }
    await d.ok(['rm', '-f', id]);
  });

  test('a cpuset beyond the CPUs the host has is refused with the list it has; kernel memory is never in force', async () => {
    const cpus = hostCpus();
    const beyond = await d.berth(['run', '--rm', '--cpuset-cpus', String(cpus[cpus.length - 1] + 1), 'busybox', 'true']);
    assert.equal(beyond.code, 125);
    const available = fs.readFileSync(cgroupV2 ? '/sys/fs/cgroup/cpuset.cpus.effective' : '/sys/fs/cgroup/cpuset/cpuset.cpus', 'utf8').trim();
    assert.match(beyond.stderr, new RegExp(`Requested CPUs are not available - requested ${cpus[cpus.length - 1] + 1}, available: ${available}`));
    const km = await d.berth(['create', '--kernel-memory', '64m', 'busybox', 'true']);
    assert.equal(km.code, 0, km.stderr);
    assert.deepEqual(warningsIn(km.stderr), [
      'WARNING: Specifying a kernel memory limit is deprecated and will be removed in a future release.',
      'WARNING: Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
    ]);
    assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.KernelMemory}}', km.stdout.trim()]), '0');
    await d.ok(['rm', km.stdout.trim()]);
  });

  test('crun: refused before anything is made where it cannot run (cgroup v1 beside a v2 hierarchy with controllers), else it runs', async (t) => {
    if (spawnSync('sh', ['-c', 'command -v crun']).status !== 0) return t.skip('crun is not installed');
    const before = await d.ok(['ps', '-aq']);
    const r = await d.berth(['run', '--rm', '--runtime', 'crun', 'busybox', 'echo', 'hi']);
    if (hybridWithControllers()) {
      assert.equal(r.code, 125);
      assert.match(r.stderr, /runtime crun cannot run containers on this host: crun refuses cgroup v1 beside a v2 hierarchy/);
      assert.equal(await d.ok(['ps', '-aq']), before);
    } else assert.deepEqual([r.code, r.stdout], [0, 'hi\n']);
  });

  test("info (Berth's CLI and docker's) and system check tell the same story of what is off", async () => {
    const info = JSON.parse((await api(d, 'GET', '/info')).body) as { Warnings: string[]; CgroupVersion: string; NCPU: number; SwapLimit: boolean; CPUSet: boolean };
    assert.equal(info.Warnings.includes('WARNING: No blkio weight support') || info.Warnings.includes('WARNING: No io.weight support'), !blkioWeight());
    assert.equal(info.Warnings.includes('WARNING: No swap limit support'), !swapLimit());
    assert.equal(info.SwapLimit, swapLimit());
    assert.equal(info.CgroupVersion, cgroupV2 ? '2' : '1');
    assert.equal(info.NCPU, hostCpus().length);
    const docker = await d.docker(['info']);
    assert.equal(docker.code, 0, docker.stderr);
    assert.deepEqual(warningsIn(docker.stderr), info.Warnings, "the docker CLI prints the daemon's warnings");
    const berth = await d.berth(['info']);
    assert.deepEqual(warningsIn(berth.stderr), info.Warnings);
    const check = await d.berth(['system', 'check']);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'No problems found.\n', 'what is off is no problem to repair: stdout stays as scripts read it');
    const off = warningsIn(check.stderr);
    assert.equal(off.some((l) => /^WARNING: cgroups (blkio|io) weight is off/.test(l)), !blkioWeight(), check.stderr);
    // Each of Berth's features that is off appears in both.
    for (const w of info.Warnings.filter((x) => / is off: /.test(x))) assert.ok(off.includes(w.replace('WARNING: ', 'WARNING: berth ')), `${w} in system check`);
    const verbose = await d.ok(['system', 'check', '-v']);
    assert.match(verbose, /^cgroups\s+v[12]\s+on/m);
    assert.match(verbose, /^network\s+qdiscs\s+on/m);
    assert.equal(verbose.split('\n').filter((l) => /^\S+\s.*\soff(\s|$)/.test(l)).length, off.length, 'the table has the same parts off');
  });

  test('nothing leaks', () => d.assertClean());
});

/** The same options through the same docker CLI, against dockerd 20.10 and against Berth, on this host. */
describe('side by side with dockerd 20.10', { skip: !HAS_DOCKERD && 'dockerd is not installed' }, () => {
  const d = suiteDaemon();
  const dockerd = suiteDockerd();

  test('create: the same warnings and the same values in force', async () => {
    const cpus = hostCpus();
    const flags = ['-m', '32m', '--memory-reservation', '16m', '--cpu-shares', '512', '--cpuset-cpus', String(cpus[0]), '--pids-limit', '50', '--blkio-weight', '300', '--oom-kill-disable', '--memory-swappiness', '10'];
    const fields = '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.BlkioWeight}} {{.HostConfig.OomKillDisable}} {{.HostConfig.MemorySwappiness}}';
    const results = [];
    for (const host of [dockerd.host, d.host]) {
      const c = await exec(DOCKER, ['-H', host, 'create', ...flags, 'busybox', 'true']);
      assert.equal(c.code, 0, c.stderr);
      const values = await exec(DOCKER, ['-H', host, 'inspect', '-f', fields, c.stdout.trim()]);
      results.push({ warnings: warningsIn(c.stderr), values: values.stdout.trim() });
      await exec(DOCKER, ['-H', host, 'rm', c.stdout.trim()]);
    }
    const [docker, berth] = results;
    // dockerd 20.10 looks only for blkio.weight; a BFQ host (blkio.bfq.weight) gets the weight in force only with Berth.
    if (blkioWeight() && !docker.warnings.length) assert.deepEqual(berth, docker);
    else if (blkioWeight()) assert.deepEqual(docker.warnings, [`WARNING: ${WEIGHT_DISCARDED}`], 'the one difference: Berth applies a BFQ weight');
    else assert.deepEqual(berth, docker);
  });

  test('update: the same warning for an option the host lacks; refusals with the same message', async () => {
    const msgs = [];
    for (const host of [dockerd.host, d.host]) {
      const id = (await exec(DOCKER, ['-H', host, 'create', 'busybox', 'true'])).stdout.trim();
      const up = await exec(DOCKER, ['-H', host, 'update', '--blkio-weight', '300', id]);
      const cpus = hostCpus();
      const bad = await exec(DOCKER, ['-H', host, 'create', '--cpuset-cpus', String(cpus[cpus.length - 1] + 1), 'busybox', 'true']);
      msgs.push({ updated: up.code, weightWarned: up.stdout.includes(WEIGHT_DISCARDED) || up.stderr.includes(WEIGHT_DISCARDED), bad: [bad.code, bad.stderr.trim()] });
      await exec(DOCKER, ['-H', host, 'rm', id]);
    }
    const [docker, berth] = msgs;
    assert.equal(berth.updated, 0);
    assert.deepEqual(berth.bad, docker.bad);
    if (!blkioWeight()) assert.deepEqual([berth.weightWarned, docker.weightWarned], [true, true]);
  });

  test('nothing leaks', () => d.assertClean());
});
