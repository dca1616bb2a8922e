import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, BERTH, busyboxTar, DOCKER, eventually, onTerminal, TestDaemon, typeOnTerminal } from './harness';

/** The real docker CLI, pointed at Berth's socket. */
describe('docker CLI against Berth', () => {
  const d = new TestDaemon();
  const ok = async (args: string[], input?: string) => {
    const r = await d.docker(args, { input });
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  before(() => d.start());
  after(() => d.cleanup());

  test('version reports the API version', async () => {
    assert.equal(await ok(['version', '--format', '{{.Server.APIVersion}}']), '1.41');
  });

  test('import, images, tag, save, load, rmi', async () => {
    assert.match(await ok(['import', '-c', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']), /^sha256:[a-f0-9]{64}$/);
    assert.equal(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), 'busybox:latest');
    await ok(['tag', 'busybox', 'copy:v1']);
    const tar = path.join(d.dir, 'copy.tar');
    await ok(['save', '-o', tar, 'copy:v1']);
    await ok(['rmi', 'copy:v1']);
    assert.match(await ok(['load', '-i', tar]), /Loaded image: copy:v1/);
    await ok(['rmi', 'copy:v1']);
  });

  test('run, ps, logs -f, exec, top, stats, inspect, update, stop, kill, wait, rm, events', async () => {
    // Relative times mean the past in docker; bound the stream with an absolute one.
    const until = String(Math.floor(Date.now() / 1000) + 15);
    const events = d.docker(['events', '--until', until, '--filter', 'type=container', '--format', '{{.Action}}'], { timeoutMs: 30_000 });
    assert.equal(await ok(['run', '--rm', 'busybox', 'echo', 'hi']), 'hi');
    const id = await ok(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.1; done']);
    assert.match(id, /^[a-f0-9]{64}$/);
    assert.equal(await ok(['ps', '--format', '{{.Names}} {{.Status}}']).then((s) => s.split(' ')[0]), 'web');
    const follow = await d.docker(['logs', '-f', '--tail', '2', 'web'], { timeoutMs: 1500 });
    assert.match(follow.stdout, /tick\ntick/);
    assert.equal(await ok(['exec', 'web', 'sh', '-c', 'echo in $(hostname)']), `in ${id.slice(0, 12)}`);
    assert.match(await ok(['top', 'web']), /PID/);
    assert.match(await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'web']), /^web \d/);
    await ok(['update', '--memory', '64m', '--memory-swap', '128m', 'web']);
    assert.equal(await ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.State.Running}}', 'web']), `${64 << 20} true`);
    await ok(['stop', '-t', '1', 'web']);
    assert.equal(await ok(['wait', 'web']), '137');
    await ok(['start', 'web']);
    await ok(['kill', '-s', 'KILL', 'web']);
    // kill only sends the signal, in docker too: wait for the exit.
    assert.equal(await ok(['wait', 'web']), '137');
    assert.equal(await ok(['inspect', '-f', '{{.State.ExitCode}}', 'web']), '137');
    await ok(['rm', 'web']);
    const missing = await d.docker(['inspect', 'web']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Error: No such object: web/);
    await eventually(() => d.docker(['ps', '-aq']).then((r) => r.stdout === ''));
    const ev = await events;
    for (const a of ['create', 'start', 'die', 'destroy', 'kill', 'stop']) assert.match(ev.stdout, new RegExp(`^${a}$`, 'm'), `event ${a}`);
  });

  test('interactive input and exit codes', async () => {
    assert.equal(await ok(['exec', '-i', ...(await startSleeper()), 'head', '-c', '3'], 'abcdef'), 'abc');
    // Piped input ends: the process sees EOF on stdin and exits.
    const big = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    assert.equal(await ok(['exec', '-i', 'sleeper', 'wc', '-l'], big), '20000');
    assert.equal(await ok(['run', '--rm', '-i', 'busybox', 'cat'], big), big.trim());
    const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 42']);
    assert.equal(r.code, 42, r.stderr);
    const missing = await d.docker(['run', '--rm', 'busybox', 'nosuch']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /exec: "nosuch": executable file not found in \$PATH/);
    await ok(['rm', '-f', 'sleeper']);
  });

  test('run -it, exec -it and attach on a terminal', async () => {
    const docker = `${DOCKER} -H ${d.host}`;
    const run = await onTerminal(`${docker} run -it --rm busybox sh`, 'echo $((6*7)); tty; exit 5\n');
    assert.equal(run.code, 5, run.stdout);
    assert.match(run.stdout, /^42\r?$/m);
    assert.match(run.stdout, /^\/dev\/pts\/0\r?$/m);
    await ok(['run', '-d', '--name', 'termsleeper', 'busybox', 'sleep', '1000']);
    const ex = await onTerminal(`${docker} exec -it termsleeper sh`, 'tty; exit 7\n');
    assert.equal(ex.code, 7, ex.stdout);
    assert.match(ex.stdout, /^\/dev\/pts\/\d+\r?$/m);
    await ok(['rm', '-f', 'termsleeper']);
    await ok(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'sleep 0.5; echo tick; sleep 0.3; echo tock; exit 3']);
    const att = await d.docker(['attach', 'ticker']);
    assert.equal(att.code, 3, att.stderr);
    assert.equal(att.stdout, 'tick\ntock\n');
    await ok(['rm', 'ticker']);
  });

  // busybox sh's prompt (then its cursor query): the shell is there, and the CLI's terminal raw.
  const PROMPT = /\/ # /;

  test("detach keys end the attach and leave the container running: docker's default, --detach-keys, and the daemon's own watch", async () => {
    const docker = `${DOCKER} -H ${d.host}`;
    const running = async (name: string) => (await ok(['inspect', '-f', '{{.State.Running}}', name])) === 'true';
    const run = await typeOnTerminal(`${docker} run -it --name detached busybox sh`, [[PROMPT, 'echo hi\n'], [/^hi\r?$/m, '\x10\x11']]);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^hi\r?$/m);
    assert.ok(await running('detached'));
    // docker's attach (against dockerd too) says so and exits 1 when detached; run -it exits 0.
    const att = await typeOnTerminal(`${docker} attach --detach-keys ctrl-a,x detached`, [[/^/, 'echo again\n'], [/^again\r?$/m, '\x01x']]);
    assert.equal(att.code, 1, att.stdout);
    assert.match(att.stdout, /^again\r?$/m);
    assert.match(att.stdout, /read escape sequence/);
    assert.ok(await running('detached'));
    const berth = await typeOnTerminal(`${BERTH} -H ${d.host} attach detached`, [[/^/, 'echo berth\n'], [/^berth\r?$/m, '\x10\x11']]);
    assert.equal(berth.code, 1, berth.stdout);
    assert.match(berth.stdout, /^berth\r?$/m);
    assert.match(berth.stdout, /read escape sequence/);
    assert.ok(await running('detached'));
    const berthRun = await typeOnTerminal(`${BERTH} -H ${d.host} run -it --name berth-detached busybox sh`, [[PROMPT, '\x10\x11']]);
    assert.equal(berthRun.code, 0, berthRun.stdout);
    assert.ok(await running('berth-detached'));
    await ok(['rm', '-f', 'berth-detached']);
    // A client that only sends bytes (an SDK's socket): the daemon sees the sequence and ends the attach.
    await ok(['run', '-d', '-i', '--name', 'piped', 'busybox', 'cat']);
    const got = await rawAttach(d.socket, 'piped', Buffer.from('abc\x10\x11more'));
    assert.match(got, /^HTTP\/1.1 101/);
    assert.ok(await running('piped'));
    // What came before the sequence reached the process; the sequence and what followed did not.
    await eventually(async () => (await ok(['logs', 'piped'])) === 'abc', 5_000);
    const bad = await api(d, 'POST', '/containers/piped/attach?stream=1&stdin=1&detachKeys=alt-q');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /Invalid detach keys \(alt-q\) provided/);
    await ok(['rm', '-f', 'detached', 'piped']);
  });

  async function startSleeper(): Promise<string[]> {
    await ok(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '1000']);
    return ['sleeper'];
  }

  test('errors come back with docker statuses', async () => {
    // The CLI then pulls it: from a loopback registry that is not there, so nothing leaves the machine.
    const noImage = await d.docker(['run', '127.0.0.1:9/nosuch/image']);
    assert.equal(noImage.code, 125);
    assert.match(noImage.stderr, /Unable to find image '127\.0\.0\.1:9\/nosuch\/image:latest' locally/);
    assert.match(noImage.stderr, /Error response from daemon: registry 127\.0\.0\.1:9 cannot be reached/);
    const noContainer = await d.docker(['stop', 'nosuch']);
    assert.match(noContainer.stderr, /No such container: nosuch/);
  });

  test('swarm commands answer as an engine outside a swarm (dockerd 20.10\'s statuses and words)', async () => {
    const leave = await d.docker(['swarm', 'leave']);
    assert.deepEqual([leave.code, leave.stderr.trim()], [1, 'Error response from daemon: This node is not part of a swarm']);
    for (const args of [['node', 'ls'], ['service', 'ls'], ['secret', 'ls'], ['config', 'ls']]) {
      const r = await d.docker(args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./);
    }
    const get = await api(d, 'GET', '/v1.41/swarm');
    assert.equal(get.status, 503);
    assert.equal(JSON.parse(get.body).message, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    assert.match(await d.ok(['info', '--format', '{{.Swarm.LocalNodeState}}']), /^inactive$/);
  });

  test('nothing leaks', () => d.assertClean());
});

/** Attaches to a container's stdin and output over a raw socket, sends bytes, and returns all the daemon sent until it ended. */
function rawAttach(socketPath: string, name: string, input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let got = '';
    let sent = false;
    s.on('data', (c) => {
      got += c.toString('latin1');
      if (!sent && got.includes('\r\n\r\n')) {
        sent = true;
        s.write(input);
      }
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    setTimeout(() => reject(new Error(`the attach did not end: ${JSON.stringify(got)}`)), 10_000).unref();
    s.write(`POST /v1.41/containers/${name}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  });
}
