import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostFeatures } from './features';
import { HostFs } from './host-fs';

/**
 * Hosts for tests: one that offers every part Berth asks about and one that
 * offers none, so both branches of everything that asks are exercised on
 * any machine. `with` changes parts of either.
 */
export function fullHost(): HostFeatures {
  return {
    kernel: '6.1.0',
    cpus: 4,
    cgroups: {
      version: 1,
      controllers: Object.fromEntries(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'hugetlb'].map((c) => [c, `/sys/fs/cgroup/${c}`])),
      hybridControllers: [],
      memory: { limit: true, swap: true, reservation: true, swappiness: true, oomKillDisable: true, kernel: false, kernelTcp: true },
      cpu: { shares: true, cfsQuota: true, cfsPeriod: true, realtime: true },
      cpuset: { enabled: true, cpus: '0-3', mems: '0' },
      pids: true,
      blkio: { weight: true, weightDevice: true, readBps: true, writeBps: true, readIops: true, writeIops: true },
      hugetlb: { enabled: true, pageSizes: ['2MB'] },
      devices: true,
      namespaces: true,
    },
    ioSchedulers: [{ device: 'sda', active: 'bfq', available: ['mq-deadline', 'kyber', 'bfq', 'none'] }],
    security: { seccomp: true, apparmor: false, selinux: false, userNamespaces: true },
    overlay: { present: true, index: true, metacopy: true, redirectDir: true, volatile: true },
    net: {
      ipv4Forwarding: true,
      ipv6: true,
      ipv6Forwarding: false,
      bridgeNfIptables: true,
      bridgeNfIp6tables: true,
      unprivilegedPortStart: true,
      pingGroupRange: true,
      veth: true,
      qdiscs: { tbf: true, htb: true, ingress: true, fq_codel: true, sfq: true, prio: true, hfsc: true },
      ifb: true,
      u32Mirred: true,
      classify: true,
      iptables: { masquerade: true, dnat: true, conntrack: true },
      nftables: true,
    },
    criu: { path: '/usr/sbin/criu', version: '4.1.1', works: true, detail: 'criu 4.1.1 check passed' },
  };
}

export function bareHost(): HostFeatures {
  const f = fullHost();
  const off = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'boolean' ? false : v])) as T;
  return {
    ...f,
    cpus: 1,
    cgroups: {
      ...f.cgroups,
      controllers: {},
      hybridControllers: ['hugetlb'],
      memory: off(f.cgroups.memory),
      cpu: off(f.cgroups.cpu),
      cpuset: { enabled: false, cpus: '', mems: '' },
      pids: false,
      blkio: off(f.cgroups.blkio),
      hugetlb: { enabled: false, pageSizes: [] },
      devices: false,
      namespaces: false,
    },
    ioSchedulers: [{ device: 'vda', active: 'mq-deadline', available: ['none', 'mq-deadline', 'kyber'] }],
    security: off(f.security),
    overlay: off(f.overlay),
    net: { ...off(f.net), qdiscs: off(f.net.qdiscs), iptables: off(f.net.iptables) },
    criu: { works: false, detail: 'criu is not installed' },
  };
}

/** A fake root folder for HostFs: each key a host path, each value the file's content; removed when the process exits. */
export function fakeHostFs(files: Record<string, string>): HostFs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fakehost-'));
  process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), text);
  }
  return new HostFs(root);
}
