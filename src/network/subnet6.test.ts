import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { test } from 'node:test';
import { contains6, formatIp6, hostRange6, overlaps6, parseCidr6, parseIp6 } from './subnet6';

test('IPv6 addresses parse and print in the canonical form (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
    ['fe80::', 'fe80::'],
  ];
  for (const [text, canonical] of cases) assert.equal(formatIp6(parseIp6(text)), canonical, text);
  for (const bad of ['1::2::3', 'fd00', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '1.2.3.4', ':1:2:3:4:5:6:7']) assert.throws(() => parseIp6(bad), /invalid IPv6 address/, bad);
});

test('IPv6 formatting round-trips for generated addresses, and node agrees it is IPv6', () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 2000; i++) {
    // Many zero groups, so runs of zeros of every length and place appear.
    const groups = Array.from({ length: 8 }, () => (next() % 3 === 0 ? next() % 65536 : 0));
    const n = groups.reduce((a, g) => (a << 16n) | BigInt(g), 0n);
    const text = formatIp6(n);
    assert.equal(parseIp6(text), n, text);
    assert.ok(isIPv6(text), text);
    assert.ok(!/(^|:)0[0-9a-f]/.test(text), `no leading zeros: ${text}`);
  }
});

test('IPv6 prefixes: host bits refused, containment, overlap and the range containers get', () => {
  const p = parseCidr6('fd00:1::/64');
  assert.throws(() => parseCidr6('fd00:1::1/64'), /it should be fd00:1::\/64/);
  assert.throws(() => parseCidr6('fd00::/129'), /expected an IPv6 CIDR/);
  assert.ok(contains6(p, parseIp6('fd00:1::ffff:ffff:ffff:ffff')));
  assert.ok(!contains6(p, parseIp6('fd00:2::1')));
  assert.ok(overlaps6(p, parseCidr6('fd00::/16')));
  assert.ok(!overlaps6(p, parseCidr6('fd00:2::/64')));
  assert.deepEqual(hostRange6(parseCidr6('fd00::/120')), { first: parseIp6('fd00::1'), last: parseIp6('fd00::ff') });
});
