import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostNameservers } from './dns';

test('upstream resolvers are the nameservers of resolv.conf, in order', () => {
  assert.deepEqual(hostNameservers('# c\nsearch example.com\nnameserver 10.0.0.2\nnameserver  127.0.0.53 \nnameserver fd00::1\noptions ndots:2\n'), ['10.0.0.2', '127.0.0.53']);
  assert.deepEqual(hostNameservers(''), []);
});
