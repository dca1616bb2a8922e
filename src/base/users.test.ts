import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGroup, parsePasswd, resolveUser } from './users';

const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n');
const groups = parseGroup('root:x:0:\nwww:x:33:\nstaff:x:50:www\n');

test('names resolve through passwd, with supplementary groups', () => {
  assert.deepEqual(resolveUser('www', passwd, groups), { uid: 33, gid: 33, additionalGids: [50], home: '/var/www' });
});

test('numeric ids need no entry', () => {
  assert.deepEqual(resolveUser('1000:1000', passwd, groups), { uid: 1000, gid: 1000, additionalGids: [], home: '/' });
});

test('group by name and group-add', () => {
  const u = resolveUser('0:staff', passwd, groups, ['33']);
  assert.equal(u.gid, 50);
  assert.deepEqual(u.additionalGids, [33]);
});

test('unknown names are an error', () => {
  assert.throws(() => resolveUser('nobody', passwd, groups), /unable to find user nobody/);
  assert.throws(() => resolveUser('root:nogroup', passwd, groups), /unable to find group nogroup/);
});
