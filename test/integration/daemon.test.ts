import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { api, cgroupDirs, eventually, mountsUnder, processesMentioning, suiteDaemon, TestDaemon } from './harness';
import { cgroupV2 } from './host-offers';

/**
 * An upgraded exec start written the slow way: headers, then the body in a
 * packet of its own, then stdin and a half-close. Returns all the daemon sent.
 */
function slowUpgradedExec(socketPath: string, execId: string, input: string, start: { Tty: boolean } = { Tty: false }): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ Detach: false, ...start });
    const s = net.connect(socketPath);
    let got = '';
    s.on('data', (c) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n') && !s.writableEnded) s.end(input);
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.write(`POST /v1.41/exec/${execId}/start HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n`);
    setTimeout(() => s.write(body), 50);
  });
}

describe('the daemon', () => {
  const d = suiteDaemon();

  test('API errors carry docker statuses and a message', async () => {
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ['GET', '/v1.41/nosuch', undefined, 404, /page not found/],
      ['GET', '/v1.41/containers/nosuch/json', undefined, 404, /No such container: nosuch/],
      ['POST', '/v1.41/containers/create', '{"Image": "busybox",', 400, /malformed JSON/],
      ['POST', '/v1.41/containers/create', '{"Image": "nosuch"}', 404, /No such image: nosuch/],
      ['POST', '/v1.41/containers/create', '{"Image": "busybox", "HostConfig": {"Memory": 10}}', 400, /Minimum memory limit/],
      ['GET', '/v1.12/info', undefined, 400, /too old/],
      ['DELETE', '/images/nosuch', undefined, 404, /No such image/],
    ];
    for (const [method, path, body, status, re] of cases) {
      const r = await api(d, method, path, body);
      assert.equal(r.status, status, `${method} ${path}: ${r.body}`);
      assert.match(JSON.parse(r.body).message, re);
    }
    const ping = await api(d, 'GET', '/_ping');
    assert.equal(ping.body, 'OK');
    assert.equal((await d.ok(['ps', '-aq'])), '');
  });

  test('exec input flows when the upgrade body arrives apart from its headers', async () => {
    await d.ok(['run', '-d', '--name', 'slowbody', 'busybox', 'sleep', '1000']);
    const created = await api(d, 'POST', '/v1.41/containers/slowbody/exec', { AttachStdin: true, AttachStdout: true, Cmd: ['cat'] });
    assert.equal(created.status, 201, created.body);
    const got = await slowUpgradedExec(d.socket, JSON.parse(created.body).Id, 'through\n');
    assert.match(got, /^HTTP\/1.1 101/);
    // cat ends only when stdin ends: the half-close reached it too.
    assert.match(got, /\x01\0\0\0\0\0\0\x08through\n$/);
    await d.ok(['rm', '-f', 'slowbody']);
  });

  test("exec start's Tty decides the framing, as dockerd's: a TTY exec started without Tty is multiplexed, the reverse raw", async () => {
    await d.ok(['run', '-d', '--name', 'framing', 'busybox', 'sleep', '1000']);
    const exec = async (Tty: boolean) => JSON.parse((await api(d, 'POST', '/v1.41/containers/framing/exec', { AttachStdout: true, AttachStderr: true, Tty, Cmd: ['sh', '-c', 'echo out; sleep 0.1; echo err >&2'] })).body).Id as string;
    const body = (got: string) => got.slice(got.indexOf('\r\n\r\n') + 4);
    // A terminal merges the streams; framed as stdout.
    assert.equal(body(await slowUpgradedExec(d.socket, await exec(true), '', { Tty: false })), '\x01\0\0\0\0\0\0\x05out\r\n\x01\0\0\0\0\0\0\x05err\r\n');
    assert.equal(body(await slowUpgradedExec(d.socket, await exec(false), '', { Tty: true })), 'out\nerr\n');
    assert.equal(body(await slowUpgradedExec(d.socket, await exec(false), '', { Tty: false })), '\x01\0\0\0\0\0\0\x04out\n\x02\0\0\0\0\0\0\x04err\n');
    await d.ok(['rm', '-f', 'framing']);
  });

  test("conmon's half-written exit files are left alone", async () => {
    // conmon writes `<id>.XXXXXX` and renames it: removing it would lose the exit.
    const id = await d.ok(['run', '-d', 'busybox', 'sleep', '1000']);
    const temp = path.join(d.execRoot, 'exits', `${id}.Ab12Cd`);
    fs.writeFileSync(temp, '0');
    // Another container's exit, recorded: the daemon has read the exits folder since the temp file came.
    const other = await d.ok(['run', '-d', 'busybox', 'true']);
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Status}}', other])) === 'exited');
    assert.ok(fs.existsSync(temp));
    await d.ok(['rm', other]);
    fs.rmSync(temp);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}}', id]), 'true');
    await d.ok(['rm', '-f', id]);
  });

  test('a SIGKILLed daemon leaves containers running; the next one manages them', async () => {
    await d.ok(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'while true; do echo alive; sleep 0.1; done']);
    await d.ok(['run', '-d', '--name', 'shortlived', 'busybox', 'sh', '-c', 'sleep 1; exit 7']);
    const pid = await d.ok(['inspect', '-f', '{{.State.Pid}}', 'survivor']);
    const shortPid = Number(await d.ok(['inspect', '-f', '{{.State.Pid}}', 'shortlived']));
    await d.kill();
    // shortlived ends while no daemon watches; survivor goes on.
    await eventually(() => !fs.existsSync(`/proc/${shortPid}`), 10_000);
    process.kill(Number(pid), 0); // still alive
    await d.start();
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}} {{.State.Pid}}', 'survivor']), `true ${pid}`);
    // It exited while no daemon watched: its real code is recorded.
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'shortlived'])) === 'exited 7');
    assert.match(await d.ok(['logs', '--tail', '1', 'survivor']), /^alive$/);
    assert.equal(await d.ok(['exec', 'survivor', 'echo', 'managed']), 'managed');
    await d.ok(['stop', '-t', '1', 'survivor']);
    await d.ok(['rm', 'survivor', 'shortlived']);
  });

  test("a container whose conmon is SIGKILLed is recorded as exited, and its restart policy applies", async () => {
    await d.ok(['run', '-d', '--name', 'orphan', 'busybox', 'sleep', '1000']);
    await d.ok(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '1000']);
    const conmonOf = async (name: string) => Number(fs.readFileSync(path.join(d.execRoot, 'containers', await d.ok(['inspect', '-f', '{{.Id}}', name]), 'conmon.pid'), 'utf8'));
    const phoenixPid = await d.ok(['inspect', '-f', '{{.State.Pid}}', 'phoenix']);
    for (const name of ['orphan', 'phoenix']) process.kill(await conmonOf(name), 'SIGKILL');
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Status}}', 'orphan'])) === 'exited');
    assert.equal(await d.ok(['inspect', '-f', '{{.State.ExitCode}} {{.State.Error}}', 'orphan']), '137 container monitor (conmon) died');
    // The container's process went with its monitor: nothing runs unwatched.
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', 'phoenix'])) === 'true 1');
    assert.notEqual(await d.ok(['inspect', '-f', '{{.State.Pid}}', 'phoenix']), phoenixPid);
    assert.ok(!fs.existsSync(`/proc/${phoenixPid}`) || fs.readFileSync(`/proc/${phoenixPid}/stat`, 'utf8').split(' ')[2] === 'Z');
    assert.equal(await d.ok(['exec', 'phoenix', 'echo', 'back']), 'back');
    await d.ok(['rm', '-f', 'orphan', 'phoenix']);
  });

  test('a daemon killed during a restart back-off keeps the exit code, and the next one restarts', async () => {
    await d.ok(['run', '-d', '--name', 'flaky', '--restart', 'always', 'busybox', 'sh', '-c', 'exit 3']);
    // By the fourth restart the back-off is 1.6 s: time enough to catch it restarting.
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Restarting}} {{.RestartCount}}', 'flaky'])).match(/^true ([4-9]|\d\d)$/), 30_000);
    const count = Number((await d.ok(['inspect', '-f', '{{.RestartCount}}', 'flaky'])));
    await d.kill();
    await d.start();
    assert.equal(await d.ok(['inspect', '-f', '{{.State.ExitCode}}|{{.State.Error}}', 'flaky']), '3|');
    await eventually(async () => Number(await d.ok(['inspect', '-f', '{{.RestartCount}}', 'flaky'])) > count, 30_000);
    await d.ok(['rm', '-f', 'flaky']);
  });

  test('an exec whose conmon is SIGKILLed ends as 137, and its process goes with it', async () => {
    await d.ok(['run', '-d', '--name', 'host', 'busybox', 'sleep', '1000']);
    const exec = JSON.parse((await api(d, 'POST', '/containers/host/exec', { Cmd: ['sleep', '999'] })).body) as { Id: string };
    assert.equal((await api(d, 'POST', `/exec/${exec.Id}/start`, { Detach: true })).status, 200);
    const pid = (JSON.parse((await api(d, 'GET', `/exec/${exec.Id}/json`)).body) as { Pid: number }).Pid;
    process.kill(Number(fs.readFileSync(path.join(d.execRoot, 'exec', exec.Id, 'conmon.pid'), 'utf8')), 'SIGKILL');
    await eventually(async () => !(JSON.parse((await api(d, 'GET', `/exec/${exec.Id}/json`)).body) as { Running: boolean }).Running);
    assert.equal((JSON.parse((await api(d, 'GET', `/exec/${exec.Id}/json`)).body) as { ExitCode: number }).ExitCode, 137);
    await eventually(() => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z');
    assert.equal(await d.ok(['exec', 'host', 'echo', 'fine']), 'fine');
    await d.ok(['rm', '-f', 'host']);
  });

  test('after a host reboot (processes gone, exec root wiped) the store is reconciled', async () => {
    await d.ok(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '1000']);
    await d.ok(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sleep', '1000']);
    await d.kill();
    for (const p of processesMentioning(d.execRoot)) process.kill(Number(p.split(' ')[0]), 'SIGKILL');
    // The containers' own processes, found through their cgroups.
    const inCgroups = cgroupDirs(d.cgroupParent).filter((c) => cgroupV2 || c.startsWith('/sys/fs/cgroup/pids/'));
    for (const pid of inCgroups.flatMap((c) => fs.readFileSync(path.join(c, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))) process.kill(Number(pid), 'SIGKILL');
    for (const m of mountsUnder(d.execRoot).reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(d.execRoot, { recursive: true, force: true });
    await d.start();
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'plain']), 'exited 255');
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Running}}', 'always'])) === 'true');
    assert.equal(await d.ok(['exec', 'always', 'echo', 'up']), 'up');
    assert.equal(await d.ok(['start', 'plain']), 'plain');
    await d.ok(['rm', '-f', 'plain', 'always']);
  });

  test('two daemons side by side do not see each other', async () => {
    const other = new TestDaemon();
    await other.start();
    try {
      await other.importBusybox();
      await other.ok(['run', '-d', '--name', 'mine', 'busybox', 'sleep', '1000']);
      await d.ok(['run', '-d', '--name', 'mine', 'busybox', 'sleep', '1000']);
      assert.notEqual(await other.ok(['inspect', '-f', '{{.Id}}', 'mine']), await d.ok(['inspect', '-f', '{{.Id}}', 'mine']));
      await other.ok(['rm', '-f', 'mine']);
      assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}}', 'mine']), 'true');
      await other.assertClean();
      await d.ok(['rm', '-f', 'mine']);
    } finally {
      await other.cleanup();
    }
  });

  test("a second daemon given the first one's bridge fails at start, naming the bridge and --bridge, and saves nothing", async () => {
    await d.ok(['run', '--rm', 'busybox', 'true']); // the first daemon's default bridge is up
    const other = new TestDaemon();
    try {
      await assert.rejects(other.start(['--bridge', d.bridge]), (e: Error) => {
        assert.match(e.message, new RegExp(`bridge ${d.bridge} already has address .*--bridge NAME`));
        return true;
      });
      assert.equal(fs.existsSync(path.join(other.dataRoot, 'networks')) ? fs.readdirSync(path.join(other.dataRoot, 'networks')).filter((f) => f.endsWith('.json')).length : 0, 0, 'no network record');
      // The first daemon's bridge keeps its one address, and its containers their network.
      assert.equal(spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', d.bridge], { encoding: 'utf8' }).stdout.trim().split('\n').length, 1);
      assert.equal(await d.ok(['run', '--rm', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0 | wc -l']), '1');
      // With a bridge of its own it starts.
      await other.start();
      await other.ok(['version']);
    } finally {
      await other.cleanup();
    }
  });

  test('clients that stop reading, then hang up, leave nothing held: no log file open, no listener piled up, no error logged', async () => {
    const id = await d.ok(['run', '-d', 'busybox', 'sh', '-c', 'while true; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done']);
    const held = () => fs.readdirSync(`/proc/${d.pid}/fd`).filter((f) => { try { return fs.readlinkSync(`/proc/${d.pid}/fd/${f}`).includes(id); } catch { return false; } }).length;
    const logStart = d.log.length;
    // Streams that push faster than a stalled client reads: logs -f, export, save, events.
    const answered = new Set<net.Socket>();
    const stalled = ['/v1.41/containers/' + id + '/logs?follow=1&stdout=1', '/v1.41/containers/' + id + '/export', '/v1.41/images/get?names=busybox', '/v1.41/events', '/v1.41/containers/' + id + '/stats'].flatMap((p) => Array.from({ length: 4 }, () => {
      const s = net.connect(d.socket);
      s.write(`GET ${p} HTTP/1.1\r\nHost: berth\r\n\r\n`);
      // Reads the answer's first bytes, then no more: the rest waits in the kernel's buffers, then in the daemon.
      s.once('data', () => {
        s.pause();
        answered.add(s);
      });
      return s;
    }));
    // Every stream has answered, and the followers hold the log.
    await eventually(() => answered.size === stalled.length && held() > 0, 10_000);
    for (const s of stalled) s.destroy();
    await eventually(() => held() === 0, 10_000);
    await d.ok(['rm', '-f', id]);
    const log = d.log.slice(logStart);
    assert.doesNotMatch(log, /MaxListenersExceededWarning|request failed/);
  });

  test('nothing leaks', () => d.assertClean());
});
