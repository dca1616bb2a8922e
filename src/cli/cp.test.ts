import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitContainerPath } from './cp';

test('container:path is told from a local path as docker does', () => {
  assert.deepEqual(splitContainerPath('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
  assert.deepEqual(splitContainerPath('web:'), { container: 'web', path: '/' });
  assert.equal(splitContainerPath('./a:b'), undefined, 'a colon after a slash is part of a local name');
  assert.equal(splitContainerPath('/tmp/x'), undefined);
  assert.equal(splitContainerPath(':x'), undefined);
});
