import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostFeatures } from '../../host/features';
import { bareHost, fullHost } from '../../host/fake-host';
import { adaptHostConfig, refuseUnrunnable, toResources, validateHostConfig } from './host-config';
import type { HostConfig } from '../model';

const sda = () => ({ major: 8, minor: 0 });
const adapt = (h: HostConfig, f: HostFeatures = fullHost(), update = false) => adaptHostConfig(h, f, { update, device: (p) => (p === '/dev/sda' ? sda() : undefined) });

describe('adaptHostConfig', () => {
  test("bad values are refused with docker's messages, on any host", () => {
    for (const f of [fullHost(), bareHost()]) {
      assert.throws(() => adapt({ Memory: 1024 }, f), /Minimum memory limit allowed is 6MB/);
      assert.throws(() => adapt({ NanoCpus: 64e9 }, f), /Range of CPUs is from 0.01 to|NanoCPUs can not be set/);
      assert.throws(() => adapt({ NanoCpus: 1e9, CpuQuota: 50_000 }, f), /Conflicting options: Nano CPUs and CPU Quota/);
      assert.throws(() => adapt({ CpuRealtimeRuntime: 950_000 }, f), /real-time/);
    }
    assert.throws(() => adapt({ Memory: 8 << 20, MemorySwap: 4 << 20 }), /Minimum memoryswap limit should be larger than memory limit/);
    assert.throws(() => adapt({ MemorySwap: 64 << 20 }), /You should always set the Memory limit when using Memoryswap limit/);
    assert.throws(() => adapt({ MemoryReservation: 64 << 20, Memory: 32 << 20 }), /memory limit can not be less than memory reservation/);
    assert.throws(() => adapt({ NanoCpus: 8e9 }), /Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available/);
    assert.throws(() => adapt({ CpuPeriod: 500 }), /CPU cfs period can not be less than 1ms/);
    assert.throws(() => adapt({ BlkioWeight: 5 }), /Range of blkio weight is from 10 to 1000/);
    assert.throws(() => adapt({ MemorySwappiness: 101 }), /valid memory swappiness range is 0-100/);
    assert.throws(() => adapt({ BlkioDeviceReadBps: [{ Path: '/dev/nope', Rate: 1 }] }), /\/dev\/nope is not a block device/);
    assert.throws(() => adapt({ BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 5000 }] }), /invalid weight for device/);
  });

  test('a cpuset outside the CPUs the host has is refused, naming what it has', () => {
    assert.throws(() => adapt({ CpusetCpus: '0-9' }), /^BerthError: Requested CPUs are not available - requested 0-9, available: 0-3$/);
    assert.throws(() => adapt({ CpusetMems: '1' }), /Requested memory nodes are not available - requested 1, available: 0/);
    assert.throws(() => adapt({ CpusetCpus: '3-1' }), /Invalid value 3-1 for cpuset cpus: invalid format: 3-1/);
    assert.throws(() => adapt({ CpusetCpus: '0-99999999999' }), /invalid format/);
    assert.equal(adapt({ CpusetCpus: '1,3' }).host.CpusetCpus, '1,3');
  });

  test('where the host has everything, values are kept and swap defaults to twice the memory', () => {
    const h = { Memory: 64 << 20, CpuShares: 512, CpusetCpus: '0', BlkioWeight: 300, PidsLimit: 50, BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 << 20 }] };
    const r = adapt(h);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.host, { ...h, MemorySwap: 128 << 20 });
    assert.equal(adapt({ Memory: 64 << 20 }, fullHost(), true).host.MemorySwap, undefined, 'an update does not invent a swap limit');
  });

  test("where the host lacks a part, the value is discarded with docker's warning", () => {
    const f = fullHost();
    f.cgroups.blkio = { ...f.cgroups.blkio, weight: false };
    const r = adapt({ BlkioWeight: 300, CpuShares: 512 }, f);
    assert.deepEqual(r.warnings, ['Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.']);
    assert.deepEqual([r.host.BlkioWeight, r.host.CpuShares], [0, 512]);
    // Out of range but unsupported: discarded first, as dockerd does.
    assert.equal(adapt({ BlkioWeight: 5 }, f).host.BlkioWeight, 0);

    const bare = adapt({ Memory: 64 << 20, MemorySwappiness: 10, MemoryReservation: 32 << 20, KernelMemory: 64 << 20, OomKillDisable: true, PidsLimit: 10, CpuShares: 512, CpuQuota: 50_000, CpusetCpus: '0', BlkioWeight: 300,
      BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 100 }], BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }], BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 1 }], NetworkIngressRate: 1e6, NetworkEgressRate: 1e6 }, bareHost());
    assert.deepEqual(bare.warnings, [
      'Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
      'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
      'Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.',
      'Specifying a kernel memory limit is deprecated and will be removed in a future release.',
      'Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
      'Your kernel does not support OomKillDisable. OomKillDisable discarded.',
      'Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.',
      'Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.',
      'Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.',
      'Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.',
      'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
      'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.',
      'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.',
      'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.',
      'Your kernel does not support network ingress rate limits (tc tbf). Network ingress rate discarded.',
      'Your kernel does not support network egress rate limits (tc tbf, ingress, ifb, mirred). Network egress rate discarded.',
    ]);
    assert.deepEqual(toResources(bare.host, bareHost()), {});
  });

  test('without swap accounting a memory limit stands alone (MemorySwap -1, as docker shows it)', () => {
    const f = fullHost();
    f.cgroups.memory.swap = false;
    const r = adapt({ Memory: 64 << 20, MemorySwap: 128 << 20 }, f);
    assert.deepEqual(r.warnings, ['Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.']);
    assert.equal(r.host.MemorySwap, -1);
    assert.deepEqual(toResources(r.host, f).memory, { limit: 64 << 20 });
  });

  // Generated: any HostConfig on any host comes out holding only what that host can do, one warning per discarded option.
  test('generated: 2000 random configs on random hosts never carry an unsupported value into the runtime', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
    const flip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'boolean' ? rnd() < 0.7 : v])) as T;
    for (let i = 0; i < 2000; i++) {
      const f = fullHost();
      f.cgroups = { ...f.cgroups, memory: { ...flip(f.cgroups.memory), kernel: false }, cpu: flip(f.cgroups.cpu), blkio: flip(f.cgroups.blkio), pids: rnd() < 0.7 };
      f.cgroups.cpuset = rnd() < 0.7 ? f.cgroups.cpuset : { enabled: false, cpus: '', mems: '' };
      f.net = { ...f.net, qdiscs: flip(f.net.qdiscs), ifb: rnd() < 0.7 };
      const h: HostConfig = {};
      if (rnd() < 0.5) h.Memory = pick([32, 64, 128]) << 20;
      if (rnd() < 0.3 && h.Memory) h.MemorySwap = pick([-1, h.Memory * 3]);
      if (rnd() < 0.3) h.CpuShares = pick([2, 512, 1024]);
      if (rnd() < 0.3) h.NanoCpus = pick([0.5e9, 1e9]);
      else if (rnd() < 0.3) h.CpuQuota = 50_000;
      if (rnd() < 0.3) h.CpusetCpus = pick(['0', '1-2']);
      if (rnd() < 0.3) h.BlkioWeight = pick([10, 300, 1000]);
      if (rnd() < 0.3) h.PidsLimit = pick([10, 100]);
      if (rnd() < 0.3) h.BlkioDeviceReadBps = [{ Path: '/dev/sda', Rate: 1 << 20 }];
      if (rnd() < 0.3) h.NetworkEgressRate = 1e6;
      let r;
      try {
        r = adapt(h, f);
      } catch (e) {
        assert.match(String(e), /NanoCPUs can not be set/, JSON.stringify({ h, f: f.cgroups.cpu }));
        assert.equal(f.cgroups.cpu.cfsQuota, false);
        continue;
      }
      const res = toResources(r.host, f);
      const c = f.cgroups;
      const lost = (k: keyof HostConfig) => !!h[k] && !r.host[k];
      if (!c.blkio.weight) assert.equal(res.blockIO?.weight, undefined);
      if (!c.cpu.shares) assert.equal(res.cpu?.shares, undefined);
      if (!c.cpu.cfsQuota) assert.equal(res.cpu?.quota, undefined);
      if (!c.cpuset.enabled) assert.equal(res.cpu?.cpus, undefined);
      if (!c.memory.limit) assert.equal(res.memory?.limit, undefined);
      if (!c.memory.swap) assert.equal(res.memory?.swap, undefined);
      if (!c.pids) assert.equal(res.pids, undefined);
      if (!c.blkio.readBps) assert.equal(res.blockIO?.throttleReadBpsDevice, undefined);
      // Whatever survived reaches the runtime.
      if (r.host.BlkioWeight) assert.equal(res.blockIO?.weight, r.host.BlkioWeight);
      if (r.host.CpuShares) assert.equal(res.cpu?.shares, r.host.CpuShares);
      if (r.host.Memory) assert.equal(res.memory?.limit, r.host.Memory);
      // One warning for each option the host took away (memory takes its swap with it).
      const discarded = (['Memory', 'CpuShares', 'CpusetCpus', 'BlkioWeight', 'PidsLimit', 'NetworkEgressRate'] as const).filter(lost).length
        + (h.CpuQuota && lost('CpuQuota') ? 1 : 0) + (h.BlkioDeviceReadBps && !r.host.BlkioDeviceReadBps?.length ? 1 : 0)
        + (h.Memory && r.host.Memory && h.MemorySwap !== -1 && r.host.MemorySwap === -1 ? 1 : 0);
      assert.equal(r.warnings.length, discarded, JSON.stringify({ h, out: r.host, warnings: r.warnings }));
    }
  });
});

test('what a host cannot run at all is refused before anything is made', () => {
  const bare = bareHost();
  const o = { runtime: 'runc', init: false, initBinary: true, publishes: false };
  assert.throws(() => refuseUnrunnable({}, bare, { ...o, runtime: 'crun' }), /runtime crun cannot run containers on this host: .*hugetlb/);
  assert.throws(() => refuseUnrunnable({}, bare, { ...o, init: true, initBinary: false }), /--init needs tini-static/);
  assert.throws(() => refuseUnrunnable({ SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }, bare, o), /Seccomp is not enabled in your kernel/);
  assert.throws(() => refuseUnrunnable({}, bare, { ...o, publishes: true }), /published ports need iptables NAT/);
  refuseUnrunnable({ SecurityOpt: ['seccomp=unconfined'] }, bare, o);
  refuseUnrunnable({}, fullHost(), { runtime: 'crun', init: true, initBinary: true, publishes: true });
});

test('other HostConfig checks', () => {
  assert.throws(() => validateHostConfig({ RestartPolicy: { Name: 'sometimes' } }), /invalid restart policy/);
  assert.throws(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'always' } }), /--restart and --rm/);
  assert.throws(() => validateHostConfig({ NetworkEgressRate: 100 }), /at least 8000/);
});

test('resources map to OCI as docker maps them', () => {
  const f = fullHost();
  const r = toResources({ Memory: 64 << 20, NanoCpus: 0.5e9, PidsLimit: 100, BlkioWeight: 300, CpuShares: 512, BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }], BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 100 }] }, f, sda);
  assert.equal(r.memory?.limit, 64 << 20);
  assert.equal(r.memory?.swap, 128 << 20, 'a record without MemorySwap gets twice the memory');
  assert.deepEqual([r.cpu?.quota, r.cpu?.period, r.cpu?.shares], [50_000, 100_000, 512]);
  assert.equal(r.pids?.limit, 100);
  assert.deepEqual(r.blockIO, { weight: 300, weightDevice: [{ major: 8, minor: 0, weight: 200 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }] });
  assert.deepEqual(toResources({}, f), {});
  // A record made on a host that had every part, started on one that has none: nothing it lacks reaches runc.
  const all = { Memory: 64 << 20, MemorySwap: 128 << 20, MemoryReservation: 32 << 20, MemorySwappiness: 10, OomKillDisable: true, KernelMemoryTCP: 1 << 20, NanoCpus: 1e9, CpuShares: 512, CpusetCpus: '0', CpusetMems: '0', PidsLimit: 10, BlkioWeight: 300,
    BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }], BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }], BlkioDeviceWriteBps: [{ Path: '/dev/sda', Rate: 1 }], BlkioDeviceReadIOps: [{ Path: '/dev/sda', Rate: 1 }], BlkioDeviceWriteIOps: [{ Path: '/dev/sda', Rate: 1 }] };
  assert.deepEqual(toResources(all, bareHost(), sda), {});
  assert.equal(Object.keys(toResources(all, f, sda).blockIO ?? {}).length, 6);
  assert.equal(toResources({ Memory: 64 << 20, MemorySwap: -1 }, f).memory?.swap, -1);
});
