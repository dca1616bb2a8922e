import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { suiteDaemon, type TestDaemon } from './harness';
import { type Seq, seqChecker } from './seq-check';

const LINES = 3_000_000;
// 16 MiB files take conmon 200 ms to fill in this flood: time enough for a loaded 2-core host to move each new one.
const LIMITS = ['--log-opt', 'max-size=16m', '--log-opt', 'max-file=3'];
const MAX_SIZE = 16 * 1024 * 1024;

/** Runs berth on a `seq` and checks its output (seqChecker). */
function readSeq(d: TestDaemon, args: string[], o: { skipFirstLine?: boolean } = {}): Promise<Seq> {
  return new Promise((resolve) => {
    const p = spawn(path.resolve(__dirname, '../../../bin/berth'), ['-H', d.host, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const check = seqChecker(o);
    p.stdout.on('data', (chunk: Buffer) => check.feed(chunk));
    p.on('close', (code) => resolve({ ...check.end(), code }));
  });
}

describe('a stdout flood through a rotating log', () => {
  const d = suiteDaemon();

  /**
   * Runs a flooding container read by `reader`. Meanwhile it probes the log
   * every 20 ms: the most the history (path.1 … path.N) held, its most
   * files, and the largest new file seen at the path before the daemon
   * moved it into the history.
   */
  async function flood(reader: (id: string) => Promise<Seq>) {
    const id = await d.ok(['create', ...LIMITS, 'busybox', 'seq', '1', String(LINES)]);
    const dir = path.join(d.dataRoot, 'containers', id);
    const seen = { history: 0, files: 0, fresh: 0 };
    const probe = setInterval(() => {
      // By inode: a rotation between two stats would show one file under two names.
      const sizes = new Map<number, number>();
      let fresh = 0;
      // ctr.log.tmp is conmon's new file before it renames it to the path.
      for (const f of fs.readdirSync(dir).filter((x) => /^ctr\.log(\.\d+)?$/.test(x))) {
        const st = fs.statSync(path.join(dir, f), { throwIfNoEntry: false });
        if (!st) continue;
        if (f === 'ctr.log') fresh = st.size;
        else sizes.set(st.ino, st.size);
      }
      seen.history = Math.max(seen.history, [...sizes.values()].reduce((a, b) => a + b, 0));
      seen.files = Math.max(seen.files, sizes.size);
      seen.fresh = Math.max(seen.fresh, fresh);
    }, 20);
    const got = await reader(id);
    clearInterval(probe);
    await d.ok(['rm', '-f', id]);
    return { got, ...seen };
  }

  const withinBound = (r: { history: number; files: number; fresh: number }) => {
    assert.ok(r.history > 0 && r.history <= 3 * MAX_SIZE, `history held ${r.history} bytes`);
    assert.ok(r.files <= 3, `history held ${r.files} files`);
    // A new file lives at the path only until the daemon's watch sees it: a small part of max-size.
    assert.ok(r.fresh < MAX_SIZE, `a new file reached ${r.fresh} bytes before rotation`);
  };

  test('attach gets every line, in order, while the files stay within max-size × max-file', async () => {
    const r = await flood((id) => readSeq(d, ['start', '-a', id]));
    assert.deepEqual(r.got, { first: 1, last: LINES, lines: LINES, breaks: 0, code: 0 });
    withinBound(r);
  });

  test('logs -f keeps up: from its first line on, every line, in order', async () => {
    const r = await flood(async (id) => {
      await d.ok(['start', id]);
      // Its first line may be the end of one whose start rotation removed.
      return readSeq(d, ['logs', '-f', id], { skipFirstLine: true });
    });
    // What rotation removed before logs -f began is gone; after that, nothing may be.
    assert.deepEqual(r.got, { first: r.got.first, last: LINES, lines: LINES - r.got.first + 1, breaks: 0, code: 0 });
    assert.ok(r.got.first >= 1 && r.got.first < LINES / 2, `logs -f began at ${r.got.first}`);
    withinBound(r);
  });

  test("log drivers by docker's names: json-file by default, its options taken; none keeps nothing to read, and attach still shows the output", async () => {
    assert.equal(await d.ok(['info', '--format', '{{.LoggingDriver}}']), 'json-file');
    const dflt = await d.ok(['create', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', 'busybox', 'true']);
    assert.equal(await d.ok(['inspect', '-f', '{{json .HostConfig.LogConfig}}', dflt]), '{"Type":"json-file","Config":{"max-file":"2","max-size":"1m"}}');
    const bad = await d.berth(['create', '--log-opt', 'foo=1', 'busybox', 'true']);
    assert.match(bad.stderr, /unknown log opt 'foo' for json-file log driver/);
    const run = await d.berth(['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'echo', 'shown']);
    assert.deepEqual([run.code, run.stdout], [0, 'shown\n']);
    const logs = await d.berth(['logs', 'quiet']);
    assert.deepEqual([logs.code, logs.stderr.trim()], [1, 'Error response from daemon: configured logging driver does not support reading']);
    const docker = await d.docker(['logs', 'quiet']);
    assert.match(docker.stderr, /configured logging driver does not support reading/);
    assert.notEqual(docker.code, 0);
    await d.ok(['rm', dflt, 'quiet']);
  });

  test('nothing leaks', () => d.assertClean());
});
