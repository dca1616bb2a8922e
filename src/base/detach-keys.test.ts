import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DETACH_KEYS, DetachDetector, parseDetachKeys } from './detach-keys';

test("detach keys in docker's notation", () => {
  assert.deepEqual([...parseDetachKeys(undefined)], [0x10, 0x11], "docker's default: ctrl-p, ctrl-q");
  assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [0x10, 0x11]);
  assert.deepEqual([...parseDetachKeys('ctrl-a,x')], [0x01, 0x78]);
  assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')], [0, 27, 28, 29, 30, 31]);
  for (const bad of ['ctrl-', 'ctrl-1', 'alt-x', 'ab']) assert.throws(() => parseDetachKeys(bad), /Invalid detach keys/);
});

test('the sequence is held while it matches, passed on when it breaks, swallowed when whole', () => {
  const d = new DetachDetector(DEFAULT_DETACH_KEYS);
  assert.deepEqual(d.feed(Buffer.from('ab\x10')), { pass: Buffer.from('ab'), detach: false });
  assert.deepEqual(d.feed(Buffer.from('c')), { pass: Buffer.from('\x10c'), detach: false });
  assert.deepEqual(d.feed(Buffer.from('\x10\x10')), { pass: Buffer.from('\x10'), detach: false });
  assert.deepEqual(d.feed(Buffer.from('\x11rest')), { pass: Buffer.alloc(0), detach: true });
  const split = new DetachDetector(parseDetachKeys('ctrl-a,x,y'));
  assert.deepEqual(split.feed(Buffer.from('1\x01x')), { pass: Buffer.from('1'), detach: false });
  assert.deepEqual(split.feed(Buffer.from('z')), { pass: Buffer.from('\x01xz'), detach: false });
  assert.deepEqual(split.feed(Buffer.from('\x01xy')), { pass: Buffer.alloc(0), detach: true });
  // Generated: any input without the sequence passes whole and in order, however it is cut.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 500; i++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => [0x10, 0x11, 0x61][Math.floor(rnd() * 3)]));
    const whole = bytes.includes(Buffer.from([0x10, 0x11]));
    const det = new DetachDetector(DEFAULT_DETACH_KEYS);
    const out: Buffer[] = [];
    let detached = false;
    for (let at = 0; at < bytes.length && !detached; ) {
      const n = 1 + Math.floor(rnd() * 5);
      const r = det.feed(bytes.subarray(at, at + n));
      out.push(r.pass);
      detached = r.detach;
      at += n;
    }
    assert.equal(detached, whole, bytes.toString('hex'));
    const upTo = whole ? bytes.subarray(0, bytes.indexOf(Buffer.from([0x10, 0x11]))) : bytes;
    if (!whole) assert.deepEqual(Buffer.concat(out), upTo.subarray(0, upTo.length - (upTo[upTo.length - 1] === 0x10 ? 1 : 0)), bytes.toString('hex'));
    else assert.deepEqual(Buffer.concat(out), upTo);
  }
});
