import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { OverlaySnapshotter } from './snapshotter';

const folder = (root: string, name: string) => path.join(root, createHash('sha256').update(name).digest('hex').slice(0, 32));

test('a commit cut between its info write and its rename leaves nothing listed, and open() removes it', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-snap-'));
  const s = await OverlaySnapshotter.open(root);
  await s.prepare('extract-1', undefined);
  await s.commit('sha256:layer', 'extract-1');
  await s.prepare('extract-2', undefined);
  assert.deepEqual((await s.list()).map((i) => i.name).sort(), ['extract-2', 'sha256:layer']);
  // The state of the crash: the committed info, still in the active folder.
  await fsp.rename(folder(root, 'sha256:layer'), folder(root, 'extract-1'));
  assert.deepEqual((await s.list()).map((i) => i.name), ['extract-2'], 'a listed snapshot can be removed by its name; this one cannot');
  await OverlaySnapshotter.open(root);
  assert.deepEqual((await fsp.readdir(root)).sort(), [path.basename(folder(root, 'extract-2'))]);
  await fsp.rm(root, { recursive: true });
});
