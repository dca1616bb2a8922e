import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundingCapabilities, buildSpec, capabilitySet, DEFAULT_CAPABILITIES, type SpecInput } from './spec';

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
  // Only this host's ABIs: each foreign one slows runc create for nothing.
  if (process.arch === 'x64') assert.deepEqual(s.linux.seccomp?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
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

test('the bounding set maps kernel bits to names', () => {
  assert.deepEqual(boundingCapabilities('CapBnd:\t00000000a80425fb\n'), DEFAULT_CAPABILITIES.slice().sort((a, b) => order(a) - order(b)));
});

const order = (c: string) => ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP'].indexOf(c);
