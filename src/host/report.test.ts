import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bareHost, fullHost } from './fake-host';
import { berthFeatures, hostReport, infoWarnings, rateLimits } from './report';

const parts = { runtimes: ['runc', 'crun'], init: true };

test('a host with every part: no warnings, every feature on', () => {
  assert.deepEqual(infoWarnings(fullHost(), parts), []);
  assert.ok(berthFeatures(fullHost(), parts).every((r) => r.On));
  assert.deepEqual(rateLimits(fullHost()), { ingress: true, egress: true });
});

test("a v1 host without BFQ: docker's line for the blkio weight, nothing else", () => {
  const f = fullHost();
  f.cgroups.blkio = { ...f.cgroups.blkio, weight: false, weightDevice: false };
  assert.deepEqual(infoWarnings(f, parts), ['WARNING: No blkio weight support', 'WARNING: No blkio weight_device support']);
  f.cgroups.version = 2;
  assert.deepEqual(infoWarnings(f, parts), ['WARNING: No io.weight support', 'WARNING: No io.weight (per device) support']);
});

test("a bare host: docker's lines (by cgroup version) and each of Berth's features off with why", () => {
  const w = infoWarnings(bareHost(), { runtimes: ['runc', 'crun'], init: false });
  for (const line of ['No memory limit support', 'No swap limit support', 'No kernel memory TCP limit support', 'No oom kill disable support', 'No cpu cfs quota support',
    'No cpu shares support', 'No cpuset support', 'No blkio weight support', 'No blkio throttle.read_bps_device support', 'IPv4 forwarding is disabled', 'bridge-nf-call-iptables is disabled']) {
    assert.ok(w.includes(`WARNING: ${line}`), line);
  }
  assert.ok(w.some((l) => /^WARNING: network egress rate limits is off: the kernel lacks veth, the tbf qdisc, the ingress qdisc, ifb, u32 with mirred/.test(l)));
  assert.ok(w.some((l) => /^WARNING: runtime crun is off: crun refuses .*hugetlb/.test(l)));
  assert.ok(w.some((l) => /^WARNING: --init is off/.test(l)));
  const v2 = bareHost();
  v2.cgroups.version = 2;
  const w2 = infoWarnings(v2, parts);
  assert.ok(w2.includes('WARNING: No io.max (rbps) support'));
  assert.ok(!w2.includes('WARNING: No oom kill disable support'), 'docker says nothing of it on v2');
  assert.deepEqual(rateLimits(bareHost()), { ingress: false, egress: false });
});

test('the report lists every part once, and its off rows are what info warns of', () => {
  const rows = hostReport(bareHost(), parts);
  assert.equal(new Set(rows.map((r) => `${r.Area}/${r.Item}`)).size, rows.length);
  for (const r of rows.filter((x) => x.Area === 'berth' && !x.On)) assert.ok(infoWarnings(bareHost(), parts).includes(`WARNING: ${r.Item} is off: ${r.Detail}`));
  assert.ok(hostReport(fullHost(), parts).filter((r) => r.Area === 'berth').every((r) => r.On));
});

test('/proc views: a warning only when lxcfs is wanted and not installed', () => {
  assert.deepEqual(infoWarnings(fullHost(), { ...parts, procView: 'lxcfs' }), []);
  assert.deepEqual(infoWarnings(fullHost(), { ...parts, procView: 'off' }), [], '--proc-view host is a choice, not a lack');
  assert.deepEqual(infoWarnings(fullHost(), { ...parts, procView: 'missing' }), ["WARNING: /proc views is off: lxcfs is not installed: containers see the host's /proc"]);
});
