import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSpec, capabilitySet, DEFAULT_CAPABILITIES, type SpecInput } from './spec';

const base: SpecInput = {
  rootfs: '/r', args: ['sh'], env: [], cwd: '/', user: { uid: 0, gid: 0 }, hostname: 'h', tty: false,
  shmSize: 64 << 20, cgroupsPath: '/berth/x',
};

test('default capabilities are docker defaults', () => {
  assert.deepEqual(capabilitySet(false), DEFAULT_CAPABILITIES);
});

test('cap-add and cap-drop accept short names and ALL', () => {
  const caps = capabilitySet(false, ['net_admin'], ['CHOWN', 'cap_kill']);
  assert.ok(caps.includes('CAP_NET_ADMIN'));
  assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_KILL'));
  assert.deepEqual(capabilitySet(false, ['NET_RAW'], ['ALL']), ['CAP_NET_RAW']);
  assert.throws(() => capabilitySet(false, ['NOPE']), /invalid capability/);
});

test('default spec isolates every namespace and applies seccomp and masks', () => {
  const s = buildSpec(base);
  assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(s.linux.maskedPaths!.includes('/proc/kcore'));
  assert.ok(s.linux.readonlyPaths!.includes('/proc/sys'));
  const shm = s.mounts.find((m) => m.destination === '/dev/shm')!;
  assert.ok(shm.options!.includes(`size=${64 << 20}`));
});

test('privileged drops seccomp and masks and grants all devices', () => {
  const s = buildSpec({ ...base, privileged: true });
  assert.equal(s.linux.seccomp, undefined);
  assert.deepEqual(s.linux.maskedPaths, []);
  assert.deepEqual(s.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
});

test('host network joins no new netns; a path joins that one', () => {
  assert.ok(!buildSpec({ ...base, netns: 'host' }).linux.namespaces.some((n) => n.type === 'network'));
  const joined = buildSpec({ ...base, netns: '/proc/1/ns/net' }).linux.namespaces.find((n) => n.type === 'network');
  assert.equal(joined?.path, '/proc/1/ns/net');
});

test('a user tmpfs at /dev/shm replaces the default one', () => {
  const s = buildSpec({ ...base, mounts: [{ destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }] });
  const shms = s.mounts.filter((m) => m.destination === '/dev/shm');
  assert.equal(shms.length, 1);
  assert.deepEqual(shms[0].options, ['size=1m']);
});
