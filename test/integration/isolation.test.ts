import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { processes } from '../host';
import { cgroupFile, eventually, suiteDaemon, zombiesAfterOrphans } from './harness';
import { cgroupV2, hostCpus } from './host-offers';

/** docker's default capability set as the bitmask /proc/self/status shows. */
const DOCKER_DEFAULT_CAPS = '00000000a80425fb';

describe('isolation and resources', () => {
  const d = suiteDaemon();

  test('a container sees only its own processes, its own hostname and network', async () => {
    const out = await d.ok(['run', '--rm', '--hostname', 'box', 'busybox', 'sh', '-c', 'ps -o pid= | wc -l; hostname; ls /sys/class/net']);
    const [procs, host, ...ifs] = out.split('\n');
    assert.ok(Number(procs) <= 3, `saw ${procs} processes`);
    assert.equal(host, 'box');
    assert.deepEqual(ifs, ['eth0', 'lo'], 'its own loopback and its end of a veth, none of the host\'s interfaces');
  });

  test("capabilities, seccomp and masked paths are docker's defaults", async () => {
    const status = await d.ok(['run', '--rm', 'busybox', 'grep', '-E', '^(CapEff|Seccomp|NoNewPrivs):', '/proc/self/status']);
    assert.match(status, new RegExp(`CapEff:\\s+${DOCKER_DEFAULT_CAPS}`));
    assert.match(status, /Seccomp:\s+2/);
    // Masked: a masked /proc file this kernel has reads as empty; read-only: /proc/sys.
    const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].find((f) => fs.existsSync(f));
    assert.ok(masked, 'the host has none of the masked /proc files');
    assert.ok(fs.readFileSync(masked).length > 0 || masked === '/proc/kcore', `${masked} is not empty on the host`);
    assert.equal(await d.ok(['run', '--rm', 'busybox', 'sh', '-c', `wc -c < ${masked}`]), '0');
    const w = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo 1 > /proc/sys/kernel/domainname']);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /can't create \/proc\/sys\/kernel\/domainname: Read-only file system/);
    // Seccomp in force: unshare of a user namespace is refused without CAP_SYS_ADMIN.
    const userns = await d.berth(['run', '--rm', 'busybox', 'unshare', '-U', 'true']);
    assert.equal(userns.code, 1);
    assert.match(userns.stderr, /unshare\(0x10000000\): Operation not permitted/);
  });

  test('privileged, cap-drop, no-new-privileges, read-only, user and workdir', async () => {
    assert.match(await d.ok(['run', '--rm', '--privileged', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']), /Seccomp:\s+0/);
    assert.match(await d.ok(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'grep', 'CapEff:', '/proc/self/status']), /CapEff:\s+0000000000000000/);
    assert.match(await d.ok(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs:', '/proc/self/status']), /NoNewPrivs:\s+1/);
    assert.notEqual((await d.berth(['run', '--rm', '--read-only', 'busybox', 'touch', '/x'])).code, 0);
    assert.equal(await d.ok(['run', '--rm', '--read-only', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'touch /scratch/x && echo ok']), 'ok');
    assert.equal(await d.ok(['run', '--rm', '-u', 'nobody', '-w', '/tmp', 'busybox', 'sh', '-c', 'echo $(id -u):$(id -g) $(pwd)']), '65534:65534 /tmp');
    assert.match(await d.ok(['run', '--rm', '-e', 'A=1', '--entrypoint', 'env', 'busybox']), /^A=1$/m);
  });

  test('env files, extra hosts and the hostname reach the container as docker puts them', async () => {
    const envFile = path.join(d.dir, 'env');
    fs.writeFileSync(envFile, 'A=1\n# a comment\nB=two words\n\nFROM_HOST\n');
    const r = await d.berth(['run', '--rm', '--env-file', envFile, '--add-host', 'db:10.1.2.3', '--hostname', 'hh', 'busybox', 'sh', '-c', 'echo "$A|$B|$FROM_HOST"; grep db /etc/hosts; hostname; cat /etc/hostname'], { env: { FROM_HOST: 'passed' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1|two words|passed\n10.1.2.3\tdb\nhh\nhh\n');
  });

  test('/dev/shm defaults to 64m and follows --shm-size', async () => {
    assert.match(await d.ok(['run', '--rm', 'busybox', 'df', '-k', '/dev/shm']), /\s65536\s/);
    assert.match(await d.ok(['run', '--rm', '--shm-size', '128m', 'busybox', 'df', '-k', '/dev/shm']), /\s131072\s/);
  });

  test('a memory limit is enforced: over it the process is OOM-killed and inspect says so', async () => {
    const r = await d.berth(['run', '--name', 'hog', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x=$x$x; done']);
    assert.equal(r.code, 137, r.stderr);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'hog']), 'true 137');
    await d.ok(['rm', 'hog']);
  });

  test('update changes limits of a running container live', async () => {
    await d.ok(['run', '-d', '--name', 'lim', '-m', '32m', '--pids-limit', '50', 'busybox', 'sleep', '1000']);
    const id = await d.ok(['inspect', '-f', '{{.Id}}', 'lim']);
    const memFile = cgroupFile(d.cgroupParent, id, 'memory', 'memory.limit_in_bytes', 'memory.max');
    assert.equal(fs.readFileSync(memFile, 'utf8').trim(), String(32 << 20));
    await d.ok(['update', '-m', '64m', '--memory-swap', '128m', '--pids-limit', '80', '--cpus', '0.5', 'lim']);
    assert.equal(fs.readFileSync(memFile, 'utf8').trim(), String(64 << 20));
    const pids = cgroupFile(d.cgroupParent, id, 'pids', 'pids.max', 'pids.max');
    assert.equal(fs.readFileSync(pids, 'utf8').trim(), '80');
    assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', 'lim']), `${64 << 20} 500000000`);
    await d.ok(['rm', '-f', 'lim']);
  });

  test('an update below what the container uses fails with runc\'s word and changes nothing; updated values survive a daemon restart', async () => {
    // 48 MiB in tmpfs is charged to the container and cannot be reclaimed without swap.
    await d.ok(['run', '-d', '--name', 'full', '-m', '96m', '--memory-swap', '96m', '--memory-reservation', '64m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/dev/shm/x bs=1M count=48 2>/dev/null; exec sleep 1000']);
    const id = await d.ok(['inspect', '-f', '{{.Id}}', 'full']);
    const memFile = cgroupFile(d.cgroupParent, id, 'memory', 'memory.limit_in_bytes', 'memory.max');
    await eventually(async () => (await d.berth(['exec', 'full', 'test', '-s', '/dev/shm/x'])).code === 0 && (await d.ok(['exec', 'full', 'du', '-m', '/dev/shm/x'])).startsWith('48'), 10_000);
    const r = await d.berth(['update', '-m', '16m', '--memory-swap', '16m', '--memory-reservation', '8m', 'full']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot update container \w+: .*unable to set memory limit to 16777216 \(current usage: \d+/);
    assert.equal(fs.readFileSync(memFile, 'utf8').trim(), String(96 << 20), 'the limit stayed');
    assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}}', 'full']), `${96 << 20} ${96 << 20} ${64 << 20}`);
    await d.ok(['update', '-m', '128m', '--memory-swap', '128m', '--memory-reservation', '80m', '--pids-limit', '70', 'full']);
    await d.stop();
    await d.start();
    const want = `${128 << 20} ${80 << 20} 70`;
    assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.PidsLimit}}', 'full']), want);
    assert.equal(fs.readFileSync(memFile, 'utf8').trim(), String(128 << 20));
    const stats = JSON.parse(await d.ok(['stats', '--no-stream', '--format', '{{json .}}', 'full']));
    assert.match(stats.MemUsage, /\/ 128MiB$/);
    await d.ok(['rm', '-f', 'full']);
  });

  test('cpu shares and cpuset are set at run and changed by update', async () => {
    const cpus = hostCpus();
    const last = String(cpus[cpus.length - 1]);
    await d.ok(['run', '-d', '--name', 'cpus', '--cpu-shares', '512', '--cpuset-cpus', last, 'busybox', 'sleep', '1000']);
    const id = await d.ok(['inspect', '-f', '{{.Id}}', 'cpus']);
    const shares = cgroupFile(d.cgroupParent, id, 'cpu', 'cpu.shares', 'cpu.weight');
    const cpuset = cgroupFile(d.cgroupParent, id, 'cpuset', 'cpuset.cpus', 'cpuset.cpus');
    // cgroup v2 has weights of 1-10000 where v1 has shares of 2-262144 (runc's conversion).
    const sharesAs = (n: number) => String(cgroupV2 ? 1 + Math.floor(((n - 2) * 9999) / 262142) : n);
    const read = (f: string) => fs.readFileSync(f, 'utf8').trim();
    assert.deepEqual([read(shares), read(cpuset)], [sharesAs(512), last]);
    const all = cpus.length > 1 ? `${cpus[0]}-${last}` : last;
    await d.ok(['update', '--cpu-shares', '256', '--cpuset-cpus', all, 'cpus']);
    assert.deepEqual([read(shares), read(cpuset)], [sharesAs(256), all]);
    assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}', 'cpus']), `256 ${all}`);
    await d.ok(['rm', '-f', 'cpus']);
  });

  test('--device-cgroup-rule grants a device class beyond docker\'s defaults; a bad rule is refused', async () => {
    const open = 'mknod /tmp/l b 7 0; dd if=/tmp/l of=/dev/null count=1 2>&1 | head -1';
    assert.match(await d.ok(['run', '--rm', 'busybox', 'sh', '-c', open]), /Operation not permitted/);
    assert.doesNotMatch(await d.ok(['run', '--rm', '--device-cgroup-rule', 'b 7:* rmw', 'busybox', 'sh', '-c', open]), /Operation not permitted/);
    const bad = await d.berth(['run', '--rm', '--device-cgroup-rule', 'x 7:* rmw', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid device cgroup format 'x 7:\* rmw'/);
  });

  test('--init reaps orphaned zombies: 1000 of them leave none', async () => {
    // Without an init, pid 1 (sleep) reaps nothing: the orphans stay zombies. That is what --init is for.
    assert.ok((await zombiesAfterOrphans(d, 100, false)) >= 100);
    assert.equal(await zombiesAfterOrphans(d, 1000, true), 0);
  });

  test("/proc shows a container its own limits (lxcfs), updates within a second, and comes back by itself when lxcfs is killed", async () => {
    const hasLxcfs = spawnSync('sh', ['-c', 'command -v lxcfs']).status === 0;
    const view = await d.ok(['run', '--rm', '-m', '256m', '--cpus', '1', '--cpuset-cpus', '0', 'busybox', 'sh', '-c',
      'grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online; cut -d" " -f1 /proc/uptime; nproc']);
    const [mem, cpus, online, uptime, nproc] = view.split('\n');
    assert.equal(nproc, '1', 'the cpuset, through sched_getaffinity');
    if (!hasLxcfs) {
      // Without lxcfs the container sees the host's files, and info says so.
      assert.match(await d.ok(['info', '--format', '{{json .Warnings}}']), /\/proc views is off: lxcfs is not installed/);
      return;
    }
    assert.equal(mem, 'MemTotal:         262144 kB');
    assert.deepEqual([cpus, online], ['1', '0']);
    assert.ok(Number(uptime) < 10, `its own uptime: ${uptime}`);
    // Vertical scaling, seen by the application.
    const id = await d.ok(['run', '-d', '-m', '300m', 'busybox', 'sleep', '1000']);
    const memTotal = async () => (await d.berth(['exec', id, 'grep', 'MemTotal', '/proc/meminfo'])).stdout.trim();
    assert.equal(await memTotal(), 'MemTotal:         307200 kB');
    await d.ok(['update', '-m', '200m', id]);
    await eventually(async () => (await memTotal()) === 'MemTotal:         204800 kB', 5000);
    // lxcfs killed: the daemon starts it again and binds the running container's views anew.
    const lxcfs = processes().filter((p) => /(^|\/)lxcfs /.test(p.cmdline) && p.cmdline.includes(d.execRoot));
    assert.equal(lxcfs.length, 1, 'one lxcfs, the daemon\'s own');
    process.kill(lxcfs[0].pid, 'SIGKILL');
    await eventually(async () => (await memTotal()) === 'MemTotal:         204800 kB', 10_000);
    assert.equal(await d.ok(['exec', id, 'sh', '-c', 'cat /proc/uptime /proc/stat /proc/loadavg > /dev/null && echo readable']), 'readable', 'no ENOTCONN left behind');
    assert.equal(await d.ok(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', id]), '0 true', 'without a restart');
    assert.equal(await d.ok(['run', '--rm', '-m', '64m', 'busybox', 'grep', 'MemTotal', '/proc/meminfo']), 'MemTotal:          65536 kB', 'new containers have views at once');
    await d.ok(['rm', '-f', id]);
  });

  test('nothing leaks', () => d.assertClean());
});
