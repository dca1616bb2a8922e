import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameDecoder, frame, STDERR, STDOUT } from './frames';

test('frames are read back into lines per stream, whatever the chunks and however frames cut lines', () => {
  const bytes = Buffer.concat([frame(STDOUT, Buffer.from('one\ntw')), frame(STDERR, Buffer.from('err\n')), frame(STDOUT, Buffer.from('o\nthree\npart'))]);
  for (const size of [1, 3, 7, 64]) {
    const d = new FrameDecoder();
    const got: string[] = [];
    for (let i = 0; i < bytes.length; i += size) for (const l of d.push(bytes.subarray(i, i + size))) got.push(`${l.stream}:${l.line}`);
    for (const l of d.end()) got.push(`${l.stream}:${l.line}`);
    assert.deepEqual(got, ['1:one', '2:err', '1:two', '1:three', '1:part'], `chunks of ${size}`);
  }
});
