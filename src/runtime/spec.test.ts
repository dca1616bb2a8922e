import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundingCapabilities, buildSpec, capabilitySet, type SpecInput } from './spec';

const base: SpecInput = {
  rootfs: '/r', args: ['sh'], env: [], cwd: '/', user: { uid: 0, gid: 0 }, hostname: 'h', tty: false,
  shmSize: 64 << 20, cgroupsPath: '/berth/x',
};

// Docker's defaults, written out from moby's oci/caps/defaults.go and oci/defaults.go (not from our constants).
const DOCKER_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const DOCKER_MASKED = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const DOCKER_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

test('default capabilities are docker defaults', () => {
  assert.deepEqual(capabilitySet(false), DOCKER_CAPS);
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
  assert.deepEqual(s.linux.maskedPaths, DOCKER_MASKED);
  assert.deepEqual(s.linux.readonlyPaths, DOCKER_READONLY);
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
  // dockerd's containers show CapBnd a80425fb: bits 0 1 3 4 5 6 7 8 10 13 18 27 29 31, in kernel order.
  const bits = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP'];
  assert.deepEqual(boundingCapabilities('CapBnd:\t00000000a80425fb\n'), bits);
  assert.deepEqual(new Set(bits), new Set(DOCKER_CAPS));
  assert.deepEqual(boundingCapabilities('CapBnd:\t0000000000000001\n'), ['CAP_CHOWN']);
  assert.deepEqual(boundingCapabilities('CapBnd:\t0000000000200000\n'), ['CAP_SYS_ADMIN']);
  assert.equal(boundingCapabilities('CapBnd:\t000001ffffffffff\n').length, 41);
});
