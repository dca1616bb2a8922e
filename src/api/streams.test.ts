import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLogLine } from '../engine/logs/logs';
import { encodeBatch } from './streams';

/** A frame as docker's attach documentation draws it: [stream, 0, 0, 0, size (4 bytes, big endian)], then the payload. */
const dockerFrame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([stream, 0, 0, 0, payload.length >>> 24, (payload.length >>> 16) & 255, (payload.length >>> 8) & 255, payload.length & 255]), payload]);
};

const entry = (stream: string, tag: string, text: string) => parseLogLine(Buffer.from(`2024-01-02T03:04:05.000000001+00:00 ${stream} ${tag} ${text}`))!;

test('a batch becomes one frame per run of the same stream', () => {
  const batch = [entry('stdout', 'F', 'a'), entry('stdout', 'P', 'b'), entry('stdout', 'F', 'c'), entry('stderr', 'F', 'oops'), entry('stdout', 'F', 'd')];
  const want = Buffer.concat([dockerFrame(1, 'a\nbc\n'), dockerFrame(2, 'oops\n'), dockerFrame(1, 'd\n')]);
  assert.deepEqual(encodeBatch(batch, { tty: false }), want);
});

test('a tty batch is raw; timestamps prefix each entry as docker prints them', () => {
  const batch = [entry('stdout', 'F', 'a'), entry('stderr', 'F', 'b')];
  assert.equal(encodeBatch(batch, { tty: true }).toString(), 'a\nb\n');
  assert.equal(encodeBatch(batch, { tty: true, timestamps: true }).toString(), '2024-01-02T03:04:05.000000001Z a\n2024-01-02T03:04:05.000000001Z b\n');
  assert.equal(encodeBatch([], { tty: false }).length, 0);
});
