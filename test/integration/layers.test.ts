import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import * as tar from 'tar-stream';
import { lgetxattr } from '../../src/base/linux';
import { applyLayer } from '../../src/snapshots/apply';
import { packLayer } from '../../src/snapshots/diff';

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

/** A folder with a setuid file owned by a user, a symlink and a hard link to it. */
const ETC: Entry[] = [
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/conf', body: 'x=1\n', uid: 1000, gid: 1001, mode: 0o4750 },
  { name: 'etc/link', type: 'symlink', linkname: 'conf' },
  { name: 'etc/hard', type: 'link', linkname: 'etc/conf' },
];

test('files, dirs, symlinks, hardlinks, devices, owners, modes and times unpack', async () => {
  const root = tmp();
  await applyLayer(root, layer([
    ...ETC,
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

test('an upper folder packed as a layer unpacks to the same tree, whiteouts and opaque folders included; the same tree packs to the same bytes', async () => {
  const src = tmp();
  await applyLayer(src, layer([
    ...ETC,
    { name: 'empty', body: '' },
    { name: 'x', body: 'attr', pax: { 'SCHILY.xattr.user.k': 'v' } },
    { name: '.wh.gone', body: '' },
    { name: 'opaque/', type: 'directory', mode: 0o700 },
    { name: 'opaque/.wh..wh..opq', body: '' },
    { name: 'opaque/kept', body: 'k' },
  ]));
  const bytes = async () => {
    const chunks: Buffer[] = [];
    for await (const c of packLayer(src)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const packed = await bytes();
  assert.ok(packed.equals(await bytes()), 'packing is deterministic');
  const dst = tmp();
  await applyLayer(dst, Readable.from([packed]));
  const describe = (root: string) => {
    const out: string[] = [];
    const walk = (rel: string) => {
      for (const n of fs.readdirSync(path.join(root, rel)).sort()) {
        const r = path.join(rel, n);
        const st = fs.lstatSync(path.join(root, r));
        const x = lgetxattr(path.join(root, r), 'user.k')?.toString() ?? '';
        const o = st.isDirectory() ? lgetxattr(path.join(root, r), 'trusted.overlay.opaque')?.toString() ?? '' : '';
        out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.nlink} ${st.rdev} ${st.isFile() ? fs.readFileSync(path.join(root, r), 'utf8') : ''} ${x} ${o} ${st.isCharacterDevice() ? '(a whiteout: its time is not carried)' : st.mtimeMs}`);
        if (st.isDirectory()) walk(r);
      }
    };
    walk('');
    return out;
  };
  assert.deepEqual(describe(dst), describe(src));
});
