import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBandwidth, formatRate, parseBandwidth, parseRate } from './rates';

const M = 1e6;

test('rates in bits or bytes per second', () => {
  assert.equal(parseRate('10mbit', '--x'), 10_000_000);
  assert.equal(parseRate('1.5gbit', '--x'), 1_500_000_000);
  assert.equal(parseRate('2mbps', '--x'), 16_000_000);
  assert.equal(parseRate('800kbit', '--x'), 800_000);
  assert.throws(() => parseRate('10m', '"--x" flag'), /for "--x" flag: a rate such as 10mbit/);
});

test('the flag parses in any order and names what is wrong', () => {
  assert.deepEqual(parseBandwidth('guarantee=100mbit,limit=1gbit,priority=1'), { guarantee: 100 * M, limit: 1000 * M, priority: 1 });
  assert.deepEqual(parseBandwidth('priority=7'), { guarantee: 0, limit: 0, priority: 7 });
  assert.deepEqual(parseBandwidth('limit=2mbps, guarantee=8mbit'), { guarantee: 8 * M, limit: 16 * M, priority: 0 });
  assert.throws(() => parseBandwidth('guarantee=100'), /a rate such as 10mbit/);
  assert.throws(() => parseBandwidth('priority=8'), /from 0 to 7/);
  assert.throws(() => parseBandwidth('priority=-1'), /from 0 to 7/);
  assert.throws(() => parseBandwidth('weight=3'), /unknown key "weight"/);
  assert.throws(() => parseBandwidth('guarantee'), /key=value/);
  assert.throws(() => parseBandwidth('guarantee=1mbit,guarantee=2mbit'), /given twice/);
  assert.throws(() => parseBandwidth('guarantee=10mbit,limit=5mbit'), /limit \(5Mbit\) is below the guarantee \(10Mbit\)/);
  assert.throws(() => checkBandwidth({ guarantee: -1, limit: 0, priority: 0 }), /not negative/);
  assert.throws(() => checkBandwidth({ guarantee: 1.5, limit: 0, priority: 0 }), /whole number/);
});

test('rates print as tc prints them', () => {
  assert.equal(formatRate(100 * M), '100Mbit');
  assert.equal(formatRate(1.5e9), '1.5Gbit');
  assert.equal(formatRate(800_000), '800Kbit');
  assert.equal(formatRate(500), '500bit');
});

