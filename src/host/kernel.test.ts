import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeHostFs } from './fake-host';
import { atLeast, ioSchedulers, netSysctls, overlayFeatures, securityFeatures } from './kernel';

const tree = fakeHostFs;

test('kernel versions compare numerically', () => {
  assert.equal(atLeast('6.18.44-fc-v669', [5, 10]), true);
  assert.equal(atLeast('5.4.0-150-generic', [5, 10]), false);
  assert.equal(atLeast('5.10', [5, 10, 0]), true);
  assert.equal(atLeast('5.9.16', [5, 10]), false);
});

test('I/O schedulers: the active one in brackets, and what each device offers', () => {
  const fs1 = tree({ '/sys/block/vda/queue/scheduler': 'none [mq-deadline] kyber\n', '/sys/block/sdb/queue/scheduler': '[bfq] none\n' });
  assert.deepEqual(ioSchedulers(fs1), [
    { device: 'sdb', active: 'bfq', available: ['bfq', 'none'] },
    { device: 'vda', active: 'mq-deadline', available: ['none', 'mq-deadline', 'kyber'] },
  ]);
});

test('security, overlay and network switches, on and off', () => {
  const on = tree({
    '/proc/self/status': 'Name:\tnode\nSeccomp:\t0\n',
    '/sys/module/apparmor/parameters/enabled': 'Y\n',
    '/sys/kernel/security/apparmor/profiles': '',
    '/sys/fs/selinux/enforce': '1',
    '/proc/self/ns/user': '',
    '/proc/sys/user/max_user_namespaces': '1000\n',
    '/proc/filesystems': 'nodev\tproc\nnodev\toverlay\n',
    '/sys/module/overlay/parameters/index': 'N\n',
    '/sys/module/overlay/parameters/metacopy': 'N\n',
    '/sys/module/overlay/parameters/redirect_dir': 'Y\n',
    '/proc/sys/net/ipv4/ip_forward': '1\n',
    '/proc/sys/net/ipv6/conf/all/disable_ipv6': '0\n',
    '/proc/sys/net/ipv6/conf/all/forwarding': '1\n',
    '/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n',
    '/proc/sys/net/bridge/bridge-nf-call-ip6tables': '0\n',
    '/proc/sys/net/ipv4/ip_unprivileged_port_start': '1024\n',
    '/proc/sys/net/ipv4/ping_group_range': '1\t0\n',
  });
  assert.deepEqual(securityFeatures(on), { seccomp: true, apparmor: true, selinux: true, userNamespaces: true });
  assert.deepEqual(overlayFeatures(on, '6.1.0'), { present: true, index: true, metacopy: true, redirectDir: true, volatile: true });
  assert.equal(overlayFeatures(on, '5.4.0').volatile, false);
  assert.deepEqual(netSysctls(on), { ipv4Forwarding: true, ipv6: true, ipv6Forwarding: true, bridgeNfIptables: true, bridgeNfIp6tables: false, unprivilegedPortStart: true, pingGroupRange: true });
  const off = tree({ '/proc/self/status': 'Name:\tnode\n', '/proc/sys/user/max_user_namespaces': '0\n', '/proc/self/ns/user': '' });
  assert.deepEqual(securityFeatures(off), { seccomp: false, apparmor: false, selinux: false, userNamespaces: false });
  assert.deepEqual(overlayFeatures(off, '6.1.0'), { present: false, index: false, metacopy: false, redirectDir: false, volatile: false });
  assert.deepEqual(netSysctls(off), { ipv4Forwarding: false, ipv6: false, ipv6Forwarding: false, bridgeNfIptables: false, bridgeNfIp6tables: false, unprivilegedPortStart: false, pingGroupRange: false });
});
