import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProgressMessage, showPullProgress } from './progress';

async function* from(ms: ProgressMessage[]) {
  yield* ms;
}

function sink() {
  let text = '';
  return { out: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, text: () => text };
}

const stream: ProgressMessage[] = [
  { id: '1', status: 'Pulling from x' },
  { id: 'aaa', status: 'Pulling fs layer' },
  { id: 'bbb', status: 'Pulling fs layer' },
  { id: 'aaa', status: 'Downloading', progress: '[==>   ] 1MB/3MB', progressDetail: { current: 1, total: 3 } },
  { id: 'aaa', status: 'Pull complete' },
  { status: 'Digest: sha256:x' },
];

test('plain output: a line per change of status, no bars', async () => {
  const s = sink();
  await showPullProgress(from(stream), false, s.out);
  assert.equal(s.text(), '1: Pulling from x\naaa: Pulling fs layer\nbbb: Pulling fs layer\naaa: Pull complete\nDigest: sha256:x\n');
});

test('terminal output: a layer\'s line is rewritten in place with its bar', async () => {
  const s = sink();
  await showPullProgress(from(stream), true, s.out);
  // aaa is the second of three lines: up 2, rewrite, down 2.
  assert.ok(s.text().includes('\x1b[2A\x1b[2K\raaa: Downloading [==>   ] 1MB/3MB\x1b[2B\r'), JSON.stringify(s.text()));
  assert.ok(s.text().endsWith('\x1b[2K\rDigest: sha256:x\n'));
});

test('an error in the stream is thrown with its message', async () => {
  await assert.rejects(showPullProgress(from([{ id: 'a', status: 'Pulling fs layer' }, { error: 'boom', errorDetail: { message: 'boom: details' } }]), false, sink().out), /boom: details/);
});
