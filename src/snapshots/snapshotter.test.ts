import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { OverlaySnapshotter } from './snapshotter';

test('two commits of the same layer at once: one is kept, both succeed, no folder is left', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-snap-'));
  try {
    const s = await OverlaySnapshotter.open(root);
    for (let round = 0; round < 20; round++) {
      await s.prepare(`a${round}`, undefined);
      await s.prepare(`b${round}`, undefined);
      fs.writeFileSync(path.join(s.upperDir(`a${round}`), 'f'), 'a');
      fs.writeFileSync(path.join(s.upperDir(`b${round}`), 'f'), 'a');
      await Promise.all([s.commit(`layer${round}`, `a${round}`), s.commit(`layer${round}`, `b${round}`)]);
      assert.equal((await s.stat(`layer${round}`))?.kind, 'committed');
      assert.equal(fs.readFileSync(path.join(s.upperDir(`layer${round}`), 'f'), 'utf8'), 'a');
      assert.deepEqual([await s.exists(`a${round}`), await s.exists(`b${round}`)], [false, false]);
    }
    assert.equal(fs.readdirSync(root).length, 20);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
