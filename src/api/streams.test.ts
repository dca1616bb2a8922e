import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLogLine } from '../engine/logs/logs';
import { encodeBatch, frame, STDERR, STDOUT } from './streams';

const entry = (stream: string, tag: string, text: string) => parseLogLine(Buffer.from(`2024-01-02T03:04:05.000000001+00:00 ${stream} ${tag} ${text}`))!;

test('a batch becomes one frame per run of the same stream', () => {
  const batch = [entry('stdout', 'F', 'a'), entry('stdout', 'P', 'b'), entry('stdout', 'F', 'c'), entry('stderr', 'F', 'oops'), entry('stdout', 'F', 'd')];
  const want = Buffer.concat([frame(STDOUT, Buffer.from('a\nbc\n')), frame(STDERR, Buffer.from('oops\n')), frame(STDOUT, Buffer.from('d\n'))]);
  assert.deepEqual(encodeBatch(batch, { tty: false }), want);
});

test('a tty batch is raw; timestamps prefix each entry as docker prints them', () => {
  const batch = [entry('stdout', 'F', 'a'), entry('stderr', 'F', 'b')];
  assert.equal(encodeBatch(batch, { tty: true }).toString(), 'a\nb\n');
  assert.equal(encodeBatch(batch, { tty: true, timestamps: true }).toString(), '2024-01-02T03:04:05.000000001Z a\n2024-01-02T03:04:05.000000001Z b\n');
  assert.equal(encodeBatch([], { tty: false }).length, 0);
});
