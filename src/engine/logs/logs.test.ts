import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readLogs } from './log-follower';
import { parseSize } from '../../base/sizes';
import { logLimits, parseLogLine, parseTimeArg, rotateLog, timeNs } from './logs';

test('k8s-file lines parse into stream, time and data', () => {
  const e = parseLogLine(Buffer.from('2024-01-02T03:04:05.123456789+00:00 stderr F hello world'))!;
  assert.equal(e.stream, 'stderr');
  assert.equal(e.data.toString(), 'hello world');
  assert.equal(e.full, true);
  assert.equal(parseLogLine(Buffer.from('2024-01-02T03:04:05Z stdout P part'))!.full, false);
  assert.equal(e.time, '2024-01-02T03:04:05.123456789+00:00');
  for (const empty of ['2024-01-02T03:04:05Z stdout F', '2024-01-02T03:04:05Z stdout F ']) {
    const x = parseLogLine(Buffer.from(empty))!;
    assert.equal(x.stream, 'stdout');
    assert.equal(x.data.length, 0);
  }
  for (const bad of ['garbage', 'x stdin F a', 'x stdoux F a', 'x stdout FF a', 'x stdout']) assert.equal(parseLogLine(Buffer.from(bad)), undefined, bad);
});

test('times compare at nanosecond precision', () => {
  assert.ok(timeNs('2024-01-02T03:04:05.000000002+00:00') > timeNs('2024-01-02T03:04:05.000000001Z'));
  assert.equal(parseTimeArg('1700000000.5'), 1700000000500000000n);
  assert.equal(parseTimeArg('10s', 20_000), 10_000_000_000n);
});

test('sizes and log limits', () => {
  assert.equal(parseSize('10m'), 10 * 1024 * 1024);
  assert.equal(parseSize('1k'), 1024);
  assert.throws(() => parseSize('ten'), /invalid size/);
  assert.deepEqual(logLimits({ 'max-size': '1m', 'max-file': '2' }, { maxSize: 5, maxFile: 3 }), { maxSize: 1 << 20, maxFile: 2 });
  assert.throws(() => logLimits({ 'max-file': '0' }, { maxSize: 5, maxFile: 3 }), /max-file/);
  assert.throws(() => logLimits({ bogus: '1' }, { maxSize: 5, maxFile: 3 }), /unknown log opt/);
});

test('rotation keeps max-file files and tail reads across them in order', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-logs-'));
  const file = path.join(dir, 'ctr.log');
  const line = (i: number, s: string) => `2024-01-01T00:00:0${i}.000000000Z ${s} F line${i}\n`;
  // Each new file is moved into the history at birth; conmon goes on writing it there.
  for (let i = 0; i < 5; i++) {
    await fsp.writeFile(file, line(i, i % 2 ? 'stderr' : 'stdout'));
    rotateLog(file, 3);
  }
  assert.deepEqual((await fsp.readdir(dir)).sort(), ['ctr.log.1', 'ctr.log.2', 'ctr.log.3']);
  const all = [];
  for await (const batch of readLogs(file)) for (const e of batch) all.push(e.data.toString());
  assert.deepEqual(all, ['line2', 'line3', 'line4']);
  const tail = [];
  for await (const batch of readLogs(file, { tail: 2, stderr: false })) for (const e of batch) tail.push(e.data.toString());
  assert.deepEqual(tail, ['line2', 'line4']);
  await fsp.rm(dir, { recursive: true });
});

test('a tail without follow is of what the log held when the reading began', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-logs-'));
  const file = path.join(dir, 'ctr.log');
  await fsp.writeFile(file, '2024-01-01T00:00:00Z stdout F a\n2024-01-01T00:00:01Z stdout F b\n');
  const got = [];
  for await (const batch of readLogs(file, { tail: 1 })) {
    for (const e of batch) got.push(e.data.toString());
    // The container goes on writing while its tail is sent.
    await fsp.appendFile(file, '2024-01-01T00:00:02Z stdout F c\n');
  }
  assert.deepEqual(got, ['b']);
  await fsp.rm(dir, { recursive: true });
});
