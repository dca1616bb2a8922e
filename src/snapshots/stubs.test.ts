import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { removeMountStubs } from './stubs';

test("mount points the runtime made are removed; the command's own files and what lower layers hold stay", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stubs-'));
  try {
    const [upper, lower] = [path.join(dir, 'upper'), path.join(dir, 'lower')];
    fs.mkdirSync(path.join(lower, 'root'), { recursive: true });
    fs.mkdirSync(path.join(lower, 'keep'), { recursive: true });
    // Stubs: a new chain of folders, a file under an existing folder.
    fs.mkdirSync(path.join(upper, 'var/cache/apt'), { recursive: true });
    fs.mkdirSync(path.join(upper, 'root'), { recursive: true });
    fs.writeFileSync(path.join(upper, 'root/.npmrc'), '');
    // A folder in a lower layer is not a stub, nor one the command wrote into.
    fs.mkdirSync(path.join(upper, 'keep'), { recursive: true });
    fs.mkdirSync(path.join(upper, 'work/t'), { recursive: true });
    fs.writeFileSync(path.join(upper, 'work/made'), 'x');
    await removeMountStubs(upper, [lower], ['/var/cache/apt', '/root/.npmrc', '/keep', '/work/t', '/not/there']);
    const left = (fs.readdirSync(upper, { recursive: true }) as string[]).sort();
    assert.deepEqual(left, ['keep', 'root', 'work', 'work/made']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
