import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSize } from './sizes';

test('sizes in binary units', () => {
  assert.equal(parseSize('64m'), 64 * 1024 ** 2);
  assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('512kb'), 512 * 1024);
  assert.throws(() => parseSize('12 parsecs'), /invalid size/);
});
