import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMinFree, shortOfRoom } from './disk-guard';

const st = (freeBlocks: number, ffree = 1000) => ({ bavail: freeBlocks, blocks: 1000, bsize: 4096, ffree, files: 1000 });

test('the room a data root keeps: a share of its space and inodes, or a size', () => {
  assert.deepEqual(parseMinFree('5%'), { fraction: 0.05 });
  assert.deepEqual(parseMinFree('2g'), { bytes: 2 * 1024 ** 3 });
  assert.throws(() => parseMinFree('150%'), /at most 100%/);
  assert.throws(() => parseMinFree('lots'), /invalid size/);
  assert.equal(shortOfRoom(st(50), { fraction: 0.05 }), undefined, 'exactly 5% free is enough');
  assert.match(shortOfRoom(st(49), { fraction: 0.05 })!, /^196 KiB free \(4\.9% of 3\.9 MiB\), below the 5\.0% it keeps$/);
  assert.match(shortOfRoom(st(500, 10), { fraction: 0.05 })!, /^10 inodes free \(1\.0%\)/);
  assert.equal(shortOfRoom({ ...st(500), files: 0, ffree: 0 }, { fraction: 0.05 }), undefined, 'no inode count: only space counts');
  assert.match(shortOfRoom(st(100), { bytes: 1 << 20 })!, /400 KiB free, below the 1\.0 MiB it keeps/);
  assert.equal(shortOfRoom(st(0), { fraction: 0 }), undefined, '0% turns the check off');
});
