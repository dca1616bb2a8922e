import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostNameservers, lookupIn } from './dns';

test('upstream resolvers are the nameservers of resolv.conf, in order', () => {
  assert.deepEqual(hostNameservers('# c\nsearch example.com\nnameserver 10.0.0.2\nnameserver  127.0.0.53 \nnameserver fd00::1\noptions ndots:2\n'), ['10.0.0.2', '127.0.0.53']);
  assert.deepEqual(hostNameservers(''), []);
});

test('names resolve for containers sharing a network, whichever of its addresses asks', () => {
  const zones = [
    { gateway: '10.1.0.1', records: [{ id: 'web', ip: '10.1.0.2', names: ['web'] }, { id: 'api', ip: '10.1.0.3', names: ['api', 'API-Alias'], rank: 0 }] },
    { gateway: '10.2.0.1', records: [{ id: 'api', ip: '10.2.0.2', names: ['api'], rank: 1 }, { id: 'db', ip: '10.2.0.3', names: ['db'] }] },
  ];
  assert.deepEqual(lookupIn(zones, '10.1.0.2', 'api'), ['10.1.0.3']);
  assert.deepEqual(lookupIn(zones, '10.1.0.2', 'api-alias.'), ['10.1.0.3'], 'case and a trailing dot do not matter');
  assert.equal(lookupIn(zones, '10.1.0.2', 'db'), undefined, 'web shares no network with db');
  // api asks its first network's resolver for a name on its second one.
  assert.deepEqual(lookupIn(zones, '10.1.0.3', 'db'), ['10.2.0.3']);
  assert.deepEqual(lookupIn(zones, '10.1.0.3', 'api'), ['10.1.0.3'], 'a name on two of its networks answers from its first');
  assert.deepEqual(lookupIn(zones, '10.2.0.2', 'api'), ['10.1.0.3'], 'whichever of its addresses asks');
  assert.equal(lookupIn(zones, '192.168.9.9', 'web'), undefined, 'a stranger gets nothing of ours');
});

test('a name on several of the asker\'s networks answers from the first it joined (a layered environment: its own service first, the base for the rest)', () => {
  const zones = [
    // The base environment's network: its b and c, and the feature's b joined without the service's alias.
    { gateway: '10.1.0.1', records: [{ id: 'base-b', ip: '10.1.0.2', names: ['b'] }, { id: 'base-c', ip: '10.1.0.3', names: ['c'] }, { id: 'feat-b', ip: '10.1.0.4', names: ['feat-b-1'], rank: 1 }] },
    // The feature's own network.
    { gateway: '10.2.0.1', records: [{ id: 'feat-b', ip: '10.2.0.2', names: ['b', 'feat-b-1'], rank: 0 }] },
  ];
  assert.deepEqual(lookupIn(zones, '10.2.0.2', 'b'), ['10.2.0.2'], 'the feature reaches its own b');
  assert.deepEqual(lookupIn(zones, '10.1.0.4', 'c'), ['10.1.0.3'], 'and the base for what it does not replace');
  assert.deepEqual(lookupIn(zones, '10.1.0.3', 'b'), ['10.1.0.2'], 'the base never reaches the feature by a service name');
});

test("a legacy link's alias resolves to the linked container, for the container that links only", () => {
  const zones = [
    {
      gateway: '10.1.0.1',
      records: [
        { id: 'app', ip: '10.1.0.2', names: ['app'], links: { db: 'postgres-1' } },
        { id: 'pg', ip: '10.1.0.3', names: ['postgres-1'] },
        { id: 'other', ip: '10.1.0.4', names: ['other'] },
      ],
    },
  ];
  assert.deepEqual(lookupIn(zones, '10.1.0.2', 'DB.'), ['10.1.0.3']);
  assert.deepEqual(lookupIn(zones, '10.1.0.2', 'postgres-1'), ['10.1.0.3'], 'the name itself still resolves');
  assert.equal(lookupIn(zones, '10.1.0.4', 'db'), undefined, 'another container does not see the alias');
});

test('on a dual-stack network a name has its IPv6 address for AAAA; a name without one answers empty, not forwarded', () => {
  const zones = [
    { gateway: '10.1.0.1', records: [{ id: 'web', ip: '10.1.0.2', ip6: 'fd00::2', names: ['web'] }, { id: 'old', ip: '10.1.0.3', names: ['old'] }] },
  ];
  assert.deepEqual(lookupIn(zones, '10.1.0.3', 'web', 6), ['fd00::2']);
  assert.deepEqual(lookupIn(zones, 'fd00::2', 'web', 4), ['10.1.0.2'], 'a query over IPv6 is known by its address too');
  assert.deepEqual(lookupIn(zones, '10.1.0.2', 'old', 6), []);
  assert.equal(lookupIn(zones, '10.1.0.2', 'example.org', 6), undefined);
});
