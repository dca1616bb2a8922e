import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { resolveIn } from './in-root';

test('container paths resolve under the root, symlinks followed as the container sees them, never out of it', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-files-'));
  fs.mkdirSync(path.join(root, 'data/sub'), { recursive: true });
  fs.symlinkSync('/data', path.join(root, 'abs'));
  fs.symlinkSync('../../../../..', path.join(root, 'data/up'));
  fs.symlinkSync('sub', path.join(root, 'data/rel'));
  fs.symlinkSync('loop', path.join(root, 'loop'));
  assert.equal(await resolveIn(root, '/data/sub/f'), path.join(root, 'data/sub/f'));
  assert.equal(await resolveIn(root, '/abs/sub/f'), path.join(root, 'data/sub/f'), 'an absolute link is absolute in the container');
  assert.equal(await resolveIn(root, '/data/up/etc/passwd'), path.join(root, 'etc/passwd'), 'climbing stops at the root');
  assert.equal(await resolveIn(root, '/../../etc/passwd'), path.join(root, 'etc/passwd'));
  assert.equal(await resolveIn(root, '/'), `${root}/.`, 'the root is the folder, even where it is reached through a link');
  assert.equal(await resolveIn(root, '/data/rel'), path.join(root, 'data/rel'), 'the last link is kept: a link is copied as a link');
  assert.equal(await resolveIn(root, '/data/rel', true), path.join(root, 'data/sub'));
  await assert.rejects(resolveIn(root, '/loop/x'), /too many levels of symbolic links/);
  fs.rmSync(root, { recursive: true });
});
