import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import { detectCgroups } from './cgroups';
import { fakeHostFs } from './fake-host';
import { HostFs } from './host-fs';

const tree = fakeHostFs;

const mount = (id: number, point: string, fstype: string, opts: string) => `${id} 20 0:${id} / ${point} rw,nosuid,nodev,noexec,relatime shared:${id} - ${fstype} ${fstype} ${opts}`;

/** A v1 host laid out as this project's machines are: one hierarchy per controller, hugetlb in the v2 one. */
function v1Files(extra: Record<string, string> = {}, skip: string[] = []): Record<string, string> {
  const ctl = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'].filter((c) => !skip.includes(c));
  const lines = [mount(1, '/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'), ...ctl.map((c, i) => mount(30 + i, `/sys/fs/cgroup/${c}`, 'cgroup', `rw,${c}`)), mount(50, '/sys/fs/cgroup/unified', 'cgroup2', 'rw')];
  const files: Record<string, string> = {
    '/proc/self/mountinfo': lines.join('\n') + '\n',
    '/proc/self/ns/cgroup': '',
    '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
    '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages': '0\n',
    '/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages': '0\n',
  };
  const have: Record<string, string[]> = {
    memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.swappiness', 'memory.oom_control', 'memory.kmem.tcp.limit_in_bytes'],
    cpu: ['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.rt_period_us'],
    blkio: ['blkio.throttle.read_bps_device', 'blkio.throttle.write_bps_device', 'blkio.throttle.read_iops_device', 'blkio.throttle.write_iops_device'],
  };
  for (const [c, names] of Object.entries(have)) if (ctl.includes(c)) for (const n of names) files[`/sys/fs/cgroup/${c}/${n}`] = '';
  if (ctl.includes('cpuset')) Object.assign(files, { '/sys/fs/cgroup/cpuset/cpuset.cpus': '0-1\n', '/sys/fs/cgroup/cpuset/cpuset.mems': '0\n' });
  return { ...files, ...extra };
}

describe('cgroup detection from a fake host', () => {
  test('v1 without BFQ (no weight file): throttling yes, weight no, hugetlb in the v2 hierarchy beside it', () => {
    const c = detectCgroups(tree(v1Files()));
    assert.equal(c.version, 1);
    assert.deepEqual(c.blkio, { weight: false, weightDevice: false, readBps: true, writeBps: true, readIops: true, writeIops: true });
    assert.deepEqual(c.hybridControllers, ['hugetlb']);
    assert.deepEqual(c.memory, { limit: true, swap: true, reservation: true, swappiness: true, oomKillDisable: true, kernel: false, kernelTcp: true });
    assert.deepEqual(c.cpu, { shares: true, cfsQuota: true, cfsPeriod: true, realtime: true });
    assert.deepEqual(c.cpuset, { enabled: true, cpus: '0-1', mems: '0' });
    assert.deepEqual([c.pids, c.devices, c.namespaces, c.hugetlb.enabled], [true, true, true, false]);
    assert.deepEqual(c.hugetlb.pageSizes.sort(), ['1GB', '2MB']);
    assert.equal(c.controllers.memory, '/sys/fs/cgroup/memory');
  });

  test('v1 with BFQ (blkio.bfq.weight) or CFQ (blkio.weight): weights yes', () => {
    const bfq = detectCgroups(tree(v1Files({ '/sys/fs/cgroup/blkio/blkio.bfq.weight': '', '/sys/fs/cgroup/blkio/blkio.bfq.weight_device': '' })));
    assert.deepEqual([bfq.blkio.weight, bfq.blkio.weightDevice], [true, true]);
    const cfq = detectCgroups(tree(v1Files({ '/sys/fs/cgroup/blkio/blkio.weight': '' })));
    assert.deepEqual([cfq.blkio.weight, cfq.blkio.weightDevice], [true, false]);
  });

  test('v1 without swap accounting, without memory, cpuset, pids or blkio hierarchies', () => {
    const files = v1Files({}, ['memory', 'cpuset', 'pids', 'blkio', 'devices']);
    const c = detectCgroups(tree(files));
    assert.equal(c.memory.limit, false);
    assert.equal(c.memory.swap, false);
    assert.deepEqual(c.cpuset, { enabled: false, cpus: '', mems: '' });
    assert.deepEqual([c.pids, c.devices, c.blkio.readBps], [false, false, false]);
    const noSwap = v1Files();
    delete noSwap['/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'];
    assert.deepEqual([detectCgroups(tree(noSwap)).memory.limit, detectCgroups(tree(noSwap)).memory.swap], [true, false]);
  });

  test('co-mounted controllers (cpu,cpuacct) share one mount point', () => {
    const files = v1Files({}, ['cpu', 'cpuacct']);
    files['/proc/self/mountinfo'] += mount(70, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct') + '\n';
    files['/sys/fs/cgroup/cpu,cpuacct/cpu.shares'] = '';
    const c = detectCgroups(tree(files));
    assert.equal(c.controllers.cpu, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(c.controllers.cpuacct, '/sys/fs/cgroup/cpu,cpuacct');
    assert.deepEqual([c.cpu.shares, c.cpu.cfsQuota], [true, false]);
  });

  const v2 = (controllers: string, extra: Record<string, string> = {}) =>
    tree({
      '/proc/self/mountinfo': mount(30, '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate') + '\n',
      '/proc/self/cgroup': '0::/system.slice/berth.service\n',
      '/sys/fs/cgroup/cgroup.controllers': `${controllers}\n`,
      '/sys/fs/cgroup/cpuset.cpus.effective': '0-7\n',
      '/sys/fs/cgroup/cpuset.mems.effective': '0-1\n',
      ...extra,
    });

  test('v2: controllers of the root; swap and I/O weights looked for in the daemon\'s own cgroup', () => {
    const c = detectCgroups(v2('cpuset cpu io memory hugetlb pids', { '/sys/fs/cgroup/system.slice/berth.service/memory.swap.max': 'max', '/sys/fs/cgroup/system.slice/berth.service/io.bfq.weight': 'default 100' }));
    assert.equal(c.version, 2);
    assert.deepEqual([c.memory.limit, c.memory.swap, c.memory.swappiness, c.memory.oomKillDisable], [true, true, false, false]);
    assert.deepEqual(c.blkio, { weight: true, weightDevice: true, readBps: true, writeBps: true, readIops: true, writeIops: true });
    assert.deepEqual(c.cpuset, { enabled: true, cpus: '0-7', mems: '0-1' });
    assert.deepEqual([c.hugetlb.enabled, c.devices, c.pids, c.cpu.realtime], [true, true, true, false]);
  });

  test('v2 without io.weight, io.bfq.weight or a BFQ device: throttling only; without swap or the io controller', () => {
    const noWeight = detectCgroups(v2('cpu io memory pids'));
    assert.deepEqual([noWeight.blkio.weight, noWeight.blkio.readBps, noWeight.memory.swap, noWeight.cpuset.enabled], [false, true, false, false]);
    const bfqDevice = detectCgroups(v2('io', { '/sys/block/sda/queue/scheduler': 'mq-deadline kyber [bfq] none\n' }));
    assert.equal(bfqDevice.blkio.weight, true);
    const noIo = detectCgroups(v2('cpu memory'));
    assert.deepEqual(Object.values(noIo.blkio), [false, false, false, false, false, false]);
  });

  test('this machine: what is detected agrees with the files the kernel shows', () => {
    const c = detectCgroups(new HostFs('/'));
    const blkioRoot = c.version === 1 ? c.controllers.blkio : undefined;
    if (blkioRoot) assert.equal(c.blkio.weight, fs.existsSync(`${blkioRoot}/blkio.weight`) || fs.existsSync(`${blkioRoot}/blkio.bfq.weight`));
    assert.equal(c.version, fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1);
  });
});
