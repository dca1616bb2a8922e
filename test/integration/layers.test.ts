import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import * as tar from 'tar-stream';
import { lgetxattr } from '../../src/base/linux';
import { applyLayer } from '../../src/snapshots/apply';

type Entry = Partial<tar.Header> & { name: string; body?: string };

function layer(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const { body, ...h } of entries) pack.entry({ mode: 0o644, mtime: new Date(1_000_000_000_000), ...h } as tar.Header, body ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-layer-'));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

test('files, dirs, symlinks, hardlinks, devices, owners, modes and times unpack', async () => {
  const root = tmp();
  await applyLayer(root, layer([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/conf', body: 'x=1\n', uid: 1000, gid: 1001, mode: 0o4750 },
    { name: 'etc/link', type: 'symlink', linkname: 'conf' },
    { name: 'etc/hard', type: 'link', linkname: 'etc/conf' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'fifo', type: 'fifo', mode: 0o600 },
    { name: 'x', body: 'attr', pax: { 'SCHILY.xattr.user.k': 'v' } },
  ]));
  const st = fs.statSync(path.join(root, 'etc/conf'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1001, 0o4750]);
  assert.equal(st.mtimeMs, 1_000_000_000_000);
  assert.equal(fs.readlinkSync(path.join(root, 'etc/link')), 'conf');
  assert.equal(fs.statSync(path.join(root, 'etc/hard')).ino, st.ino);
  assert.ok(fs.statSync(path.join(root, 'dev/null')).isCharacterDevice());
  assert.ok(fs.statSync(path.join(root, 'fifo')).isFIFO());
  assert.equal(lgetxattr(path.join(root, 'x'), 'user.k')?.toString(), 'v');
});

test('whiteouts and opaque directories become overlay ones', async () => {
  const root = tmp();
  await applyLayer(root, layer([
    { name: 'gone/.wh.file', body: '' },
    { name: 'dir/', type: 'directory' },
    { name: 'dir/.wh..wh..opq', body: '' },
  ]));
  const wh = fs.statSync(path.join(root, 'gone/file'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
  assert.equal(lgetxattr(path.join(root, 'dir'), 'trusted.overlay.opaque')?.toString(), 'y');
});

test('layers that escape their root are refused', async () => {
  const outside = tmp();
  const cases: [string, Entry[]][] = [
    ['dot-dot', [{ name: '../escaped', body: 'x' }]],
    ['absolute', [{ name: `${outside}/abs`, body: 'x' }]],
    ['through a symlink', [{ name: 'sneaky', type: 'symlink', linkname: outside }, { name: 'sneaky/pwned', body: 'x' }]],
    ['hard link out', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
  ];
  for (const [what, entries] of cases) {
    const root = tmp();
    await assert.rejects(applyLayer(root, layer(entries)), /escapes the root|absolute path|through symlink/, what);
  }
  assert.deepEqual(fs.readdirSync(outside), []);
});
