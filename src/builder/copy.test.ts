import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { copySources, findSources, globRegExp, sourcesDigest } from './copy';

test('globs match as Go filepath.Match: * and ? stay within one path part', () => {
  assert.ok(globRegExp('src/*.c').test('src/a.c'));
  assert.ok(!globRegExp('src/*.c').test('src/sub/a.c'));
  assert.ok(globRegExp('f?le[0-9].[!x]xt').test('file1.txt'));
  assert.ok(!globRegExp('f?le[0-9].[!x]xt').test('file1.xxt'));
  assert.ok(globRegExp('a\\*b').test('a*b') && !globRegExp('a\\*b').test('axb'));
});

test('sources: context paths stay in the context; digests see content and modes, not times', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-copy-'));
  fs.mkdirSync(path.join(root, 'ctx/dir/sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'ctx/dir/a.txt'), 'a');
  fs.writeFileSync(path.join(root, 'ctx/dir/sub/b.txt'), 'b');
  const ctx = path.join(root, 'ctx');
  await assert.rejects(findSources(ctx, ['../etc/passwd'], true), /outside the build context/);
  await assert.rejects(findSources(ctx, ['nope'], true), /file not found in build context/);
  await assert.rejects(findSources(ctx, ['*.none'], true), /no source files were specified/);
  const digest = async () => sourcesDigest(await findSources(ctx, ['dir'], true), new Map());
  const d1 = await digest();
  fs.utimesSync(path.join(ctx, 'dir/a.txt'), new Date(2000, 1, 1), new Date(2000, 1, 1));
  assert.equal(await digest(), d1, 'times are not inputs');
  fs.chmodSync(path.join(ctx, 'dir/sub/b.txt'), 0o700);
  assert.notEqual(await digest(), d1, 'modes are');

  // A folder's contents land in the destination; a file lands in a folder destination under its name.
  const rootfs = path.join(root, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'existing'), { recursive: true });
  await copySources(rootfs, await findSources(ctx, ['dir'], true), '/out/', {});
  assert.deepEqual(fs.readdirSync(path.join(rootfs, 'out')).sort(), ['a.txt', 'sub']);
  await copySources(rootfs, await findSources(ctx, ['dir/a.txt'], true), '/existing', { owner: { uid: 7, gid: 8 }, chmod: 0o600 });
  const st = fs.statSync(path.join(rootfs, 'existing/a.txt'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [7, 8, 0o600]);
  await copySources(rootfs, await findSources(ctx, ['dir/a.txt'], true), '/renamed.txt', {});
  assert.equal(fs.readFileSync(path.join(rootfs, 'renamed.txt'), 'utf8'), 'a');
  await assert.rejects(copySources(rootfs, await findSources(ctx, ['dir/*'], true), '/x', {}), /must be a directory and end with a \//);
  fs.rmSync(root, { recursive: true });
});
