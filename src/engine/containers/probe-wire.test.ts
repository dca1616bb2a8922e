import assert from 'node:assert/strict';
import * as os from 'node:os';
import { test } from 'node:test';
import { seededRandom } from '../../base/seeded';
import { type AgentReply, encodeRequest, ReplyReader, startFailure } from './probe-wire';

/** A reply as the agent writes it (native/probe_agent.c `respond`). */
function frame(r: AgentReply): Buffer {
  const b = Buffer.alloc(14 + r.output.length);
  b.writeUInt32LE(10 + r.output.length, 0);
  b.writeUInt32LE(r.seq, 4);
  b.writeInt32LE(r.code, 8);
  b[12] = ['exited', 'timeout', 'nostart'].indexOf(r.end);
  b[13] = r.more ? 1 : 0;
  r.output.copy(b, 14);
  return b;
}

test('a request: its length, sequence, timeout and NUL-ended arguments', () => {
  const b = encodeRequest(7, 1500, ['/bin/sh', '-c', 'echo ü']);
  assert.equal(b.readUInt32LE(0), b.length - 4);
  assert.equal(b.readUInt32LE(4), 7);
  assert.equal(b.readUInt32LE(8), 1500);
  assert.deepEqual(b.subarray(12).toString().split('\0'), ['/bin/sh', '-c', 'echo ü', '']);
  assert.throws(() => encodeRequest(1, 1, []), /one or more strings/);
  assert.throws(() => encodeRequest(1, 1, ['a\0b']), /without NUL/);
});

test('replies come out whole and in order however the stream is cut (1,000 generated streams)', () => {
  const rnd = seededRandom(16);
  for (let n = 0; n < 1000; n++) {
    const replies: AgentReply[] = Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, i) => ({
      seq: n * 10 + i,
      code: Math.floor(rnd() * 300) - 1,
      end: (['exited', 'timeout', 'nostart'] as const)[Math.floor(rnd() * 3)],
      more: rnd() < 0.3,
      output: Buffer.alloc(Math.floor(rnd() < 0.2 ? 4096 : rnd() * 100), String.fromCharCode(97 + (i % 26))),
    }));
    const stream = Buffer.concat(replies.map(frame));
    const reader = new ReplyReader();
    const got: AgentReply[] = [];
    for (let at = 0; at < stream.length; ) {
      const step = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 7 : 3000));
      got.push(...reader.push(stream.subarray(at, at + step)));
      at += step;
    }
    assert.deepEqual(got, replies);
  }
});

test('a frame no agent sends ends the stream with an error', () => {
  const long = Buffer.alloc(8);
  long.writeUInt32LE(10 + 4097, 0);
  assert.throws(() => new ReplyReader().push(long), /a reply of 4107 bytes/);
  const short = Buffer.alloc(8);
  short.writeUInt32LE(3, 0);
  assert.throws(() => new ReplyReader().push(short), /a reply of 3 bytes/);
  const bad = frame({ seq: 1, code: 0, end: 'exited', more: false, output: Buffer.alloc(0) });
  bad[12] = 9;
  assert.throws(() => new ReplyReader().push(bad), /unknown end 9/);
});

test("a probe that could not start reads as runc's message for the same failure", () => {
  const errno = os.constants.errno;
  assert.equal(startFailure('curl', errno.ENOENT, errno), 'exec: "curl": executable file not found in $PATH');
  assert.equal(startFailure('/bin/sh', errno.ENOENT, errno), 'exec: "/bin/sh": stat /bin/sh: no such file or directory');
  assert.equal(startFailure('/etc/passwd', errno.EACCES, errno), 'exec: "/etc/passwd": permission denied');
  assert.equal(startFailure('x', 99999, errno), 'exec: "x": errno 99999');
});
