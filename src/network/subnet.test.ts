import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contains, formatCidr, hostRange, overlaps, parseCidr, parseIp, pickFree, routePrefixes } from './subnet';

test('CIDRs parse, and host bits must be zero', () => {
  assert.deepEqual(parseCidr('10.1.0.0/16'), { base: parseIp('10.1.0.0'), bits: 16 });
  assert.throws(() => parseCidr('10.1.0.1/16'), /should be 10\.1\.0\.0\/16/);
  assert.throws(() => parseCidr('10.1.0.0/33'), /invalid subnet/);
  assert.throws(() => parseCidr('10.300.0.0/16'), /invalid IPv4/);
  assert.throws(() => parseCidr('fd00::/64'), /IPv4 CIDR/);
});

test('overlap and containment', () => {
  const a = parseCidr('10.1.0.0/16');
  assert.ok(overlaps(a, parseCidr('10.1.2.0/24')));
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), a));
  assert.ok(!overlaps(a, parseCidr('10.2.0.0/16')));
  assert.ok(contains(a, parseIp('10.1.255.255')));
  assert.ok(!contains(a, parseIp('10.2.0.0')));
  assert.deepEqual(hostRange(parseCidr('10.1.2.0/24')), { first: parseIp('10.1.2.1'), last: parseIp('10.1.2.254') });
});

test('the first free pool prefix avoids networks and host routes', () => {
  const routes = routePrefixes('default via 192.0.2.1 dev eth0\n172.17.0.0/16 dev docker0 proto kernel\n172.18.5.0/24 dev x\n10.0.0.1 dev y\n');
  assert.equal(routes.length, 3);
  assert.equal(formatCidr(pickFree(routes)!), '172.19.0.0/16');
  assert.equal(formatCidr(pickFree([parseCidr('172.0.0.0/8')])!), '192.168.0.0/20');
  assert.equal(pickFree([parseCidr('0.0.0.0/0')]), undefined);
});
