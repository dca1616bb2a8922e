import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { DOCKER, eventually, exec, suiteDaemon, type TestDaemon } from './harness';

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

const health = async (d: TestDaemon, ref: string): Promise<Health> => JSON.parse(await d.ok(['inspect', '-f', '{{json .State.Health}}', ref]));
const status = async (d: TestDaemon, ref: string) => (await health(d, ref)).Status;
const until = (d: TestDaemon, ref: string, want: string, ms = 15_000) => eventually(async () => (await status(d, ref)) === want, ms);

/** Health events of a container since a time, as `events` prints them. */
async function healthEvents(d: TestDaemon, ref: string, since: number): Promise<string[]> {
  const out = await d.ok(['events', '--since', String(since / 1000), '--until', String(Date.now() / 1000 + 1), '--filter', `container=${ref}`, '--filter', 'event=health_status', '--format', '{{.Action}}']);
  return out.split('\n').filter(Boolean);
}

describe('health checks', { timeout: 600_000 }, () => {
  const d = suiteDaemon();

  test("an image's HEALTHCHECK and the --health-* flags: starting, then healthy; docker's shape in inspect, ps and events", async () => {
    const t0 = Date.now();
    const ctx = path.join(d.dir, 'hc-image');
    fs.mkdirSync(ctx, { recursive: true });
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --interval=30s --retries=20 CMD cat /tmp/ready\n');
    await d.ok(['build', '-q', '-t', 'hc:1', ctx]);
    // The flags' interval over the image's; its test and retries kept, as dockerd merges them.
    await d.ok(['run', '-d', '--name', 'hc-img', '--health-interval', '200ms', 'hc:1', 'sh', '-c', 'sleep 1; echo ok > /tmp/ready; exec sleep 1000']);
    assert.equal(await d.ok(['inspect', '-f', '{{json .Config.Healthcheck}}', 'hc-img']), JSON.stringify({ Test: ['CMD-SHELL', 'cat /tmp/ready'], Interval: 200_000_000, Retries: 20 }));
    assert.match(await d.ok(['ps', '--filter', 'name=hc-img', '--format', '{{.Status}}']), /^Up .* \(health: starting\)$/);
    assert.equal(await d.ok(['ps', '-q', '--filter', 'health=starting', '--filter', 'name=hc-img']), (await d.ok(['inspect', '-f', '{{.Id}}', 'hc-img'])).slice(0, 12));
    await until(d, 'hc-img', 'healthy');
    const h = await health(d, 'hc-img');
    assert.equal(h.FailingStreak, 0);
    assert.deepEqual({ ...h.Log[h.Log.length - 1], Start: '', End: '' }, { Start: '', End: '', ExitCode: 0, Output: 'ok\n' });
    assert.ok(h.Log.every((r) => Date.parse(r.End) >= Date.parse(r.Start)));
    await eventually(async () => (await health(d, 'hc-img')).Log.length === 5, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await health(d, 'hc-img')).Log.length, 5, 'the history keeps the last five');
    assert.match(await d.ok(['ps', '--filter', 'name=hc-img', '--format', '{{.Status}}']), /^Up .* \(healthy\)$/);
    assert.equal(await d.ok(['ps', '-q', '--filter', 'health=unhealthy', '--filter', 'name=hc-img']), '');
    assert.equal(await d.ok(['ps', '-q', '--filter', 'health=none', '--filter', 'name=hc-img']), '');
    assert.deepEqual(await healthEvents(d, 'hc-img', t0), ['health_status: healthy'], 'an event per change of status, not per probe');
    // The docker CLI reads the same.
    const viaDocker = await exec(DOCKER, ['-H', d.host, 'inspect', '-f', '{{.State.Health.Status}} {{len .State.Health.Log}}', 'hc-img'], { env: { DOCKER_CLI_HINTS: 'false' } });
    assert.equal(viaDocker.stdout.trim(), 'healthy 5');
    const ps = await exec(DOCKER, ['-H', d.host, 'ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}'], { env: { DOCKER_CLI_HINTS: 'false' } });
    assert.match(ps.stdout, /^hc-img Up .* \(healthy\)$/m);
    // --no-healthcheck turns the image's off; a container without one has no Health and is health=none.
    await d.ok(['run', '-d', '--name', 'hc-off', '--no-healthcheck', 'hc:1', 'sleep', '1000']);
    assert.equal(await d.ok(['inspect', '-f', '{{json .State.Health}}', 'hc-off']), 'null');
    assert.match(await d.ok(['ps', '--filter', 'health=none', '--format', '{{.Names}}']), /^hc-off$/m);
    await d.ok(['rm', '-f', 'hc-img', 'hc-off']);
  });

  test('failures: unhealthy after the retries, failures in the start period do not count, output cut as docker cuts it', async () => {
    const t0 = Date.now();
    await d.ok(['run', '-d', '--name', 'hc-fail', '--health-cmd', 'head -c 5000 /dev/zero | tr "\\0" x; exit 3', '--health-interval', '200ms', '--health-retries', '3', 'busybox', 'sleep', '1000']);
    await until(d, 'hc-fail', 'unhealthy');
    const h = await health(d, 'hc-fail');
    assert.ok(h.FailingStreak >= 3, String(h.FailingStreak));
    const last = h.Log[h.Log.length - 1];
    assert.equal(last.ExitCode, 3);
    assert.equal(last.Output, `${'x'.repeat(4096)}...`, 'the first 4096 bytes, then ...');
    assert.equal(h.Log.filter((r) => r.ExitCode !== 0).length, h.Log.length);
    assert.deepEqual(await healthEvents(d, 'hc-fail', t0), ['health_status: unhealthy']);
    // In the start period the same failures leave it starting, with no streak; after it they count.
    await d.ok(['run', '-d', '--name', 'hc-grace', '--health-cmd', 'false', '--health-interval', '200ms', '--health-start-period', '3s', '--health-start-interval', '100ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
    await eventually(async () => (await health(d, 'hc-grace')).Log.length >= 3, 5000);
    const early = await health(d, 'hc-grace');
    assert.deepEqual([early.Status, early.FailingStreak], ['starting', 0]);
    const gaps = early.Log.slice(1).map((r, i) => Date.parse(r.Start) - Date.parse(early.Log[i].End));
    assert.ok(gaps.every((g) => g < 200), `the start interval, not the interval, between probes in the start period: ${gaps}`);
    await until(d, 'hc-grace', 'unhealthy', 10_000);
    await d.ok(['rm', '-f', 'hc-fail', 'hc-grace']);
  });

  test("a probe that hangs is killed at its timeout, with docker's message, and nothing of it is left in the container", async () => {
    await d.ok(['run', '-d', '--name', 'hc-hang', '--health-cmd', 'echo started; sleep 600', '--health-timeout', '300ms', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '1000']);
    await until(d, 'hc-hang', 'unhealthy');
    const h = await health(d, 'hc-hang');
    assert.equal(h.Log[0].ExitCode, -1);
    assert.equal(h.Log[0].Output, 'Health check exceeded timeout (300ms): started\n');
    assert.ok(Date.parse(h.Log[0].End) - Date.parse(h.Log[0].Start) < 3000, 'the probe ended at its timeout');
    await eventually(async () => (await health(d, 'hc-hang')).Log.length >= 4, 10_000);
    // The probe under way, if any, is the one sleep there: those of the timed-out probes went with them.
    assert.ok(Number(await d.ok(['exec', 'hc-hang', 'sh', '-c', 'ps -o args | grep -c "^sleep 600" || true'])) <= 1, "no probe's process stays behind");
    await d.ok(['rm', '-f', 'hc-hang']);
  });

  test('--health-on-failure restart heals a container that is alive but no longer answers, without anyone watching', async () => {
    // httpd answers until it is frozen (SIGSTOP): alive, and hung. (Not as PID 1, which a signal from inside cannot stop.)
    await d.ok(['run', '-d', '--name', 'hc-heal', '--health-cmd', 'wget -q -O - http://127.0.0.1/index.html', '--health-interval', '300ms', '--health-timeout', '1s', '--health-retries', '2', '--health-on-failure', 'restart', '--stop-timeout', '1',
      'busybox', 'sh', '-c', 'echo up > /index.html; httpd -f -p 80 -h / & wait']);
    await until(d, 'hc-heal', 'healthy');
    const started = await d.ok(['inspect', '-f', '{{.State.StartedAt}}', 'hc-heal']);
    await d.ok(['exec', 'hc-heal', 'sh', '-c', 'kill -STOP $(pidof httpd)']);
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.RestartCount}} {{.State.StartedAt}}', 'hc-heal'])) !== `0 ${started}`, 20_000);
    await until(d, 'hc-heal', 'healthy', 20_000);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', 'hc-heal']), 'true 1');
    await d.ok(['rm', '-f', 'hc-heal']);
  });

  test('--health-on-failure kill counts as a failure for the restart policy; stop stops for good', async () => {
    await d.ok(['run', '-d', '--name', 'hc-kill', '--restart', 'on-failure', '--health-cmd', 'test ! -f /tmp/broken', '--health-interval', '200ms', '--health-retries', '1', '--health-on-failure', 'kill', 'busybox', 'sh', '-c', 'touch /tmp/broken; exec sleep 1000']);
    await eventually(async () => Number(await d.ok(['inspect', '-f', '{{.RestartCount}}', 'hc-kill'])) >= 1, 20_000);
    assert.equal(await d.ok(['inspect', '-f', '{{.HostConfig.HealthOnFailure}}', 'hc-kill']), 'kill');
    await d.ok(['rm', '-f', 'hc-kill']);
    await d.ok(['run', '-d', '--name', 'hc-stop', '--restart', 'always', '--health-cmd', 'false', '--health-interval', '200ms', '--health-retries', '1', '--health-on-failure', 'stop', 'busybox', 'sleep', '1000']);
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Status}}', 'hc-stop'])) === 'exited', 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.Health.Status}}', 'hc-stop']), 'exited 0 unhealthy', 'stopped, not restarted; the last status kept');
    await d.ok(['rm', '-f', 'hc-stop']);
  });

  test('a daemon restart mid-probe keeps the status and history and resumes probing', async () => {
    await d.ok(['run', '-d', '--name', 'hc-restart', '--health-cmd', 'sleep 0.3; echo probed', '--health-interval', '200ms', 'busybox', 'sleep', '1000']);
    await until(d, 'hc-restart', 'healthy');
    await eventually(async () => (await health(d, 'hc-restart')).Log.length === 5, 10_000);
    await new Promise((r) => setTimeout(r, 5_500)); // past a save of the history (every 5 s between changes of status)
    const killedAt = Date.now();
    await d.kill();
    await d.start();
    const after = await health(d, 'hc-restart');
    assert.equal(after.Status, 'healthy', 'no reset to starting');
    assert.equal(after.Log.length, 5, 'the history is kept');
    const newest = Date.parse(after.Log[4].Start);
    assert.ok(newest < killedAt && newest > killedAt - 7000, `kept up to its last save before the crash: ${killedAt - newest} ms before`);
    await eventually(async () => {
      const h = await health(d, 'hc-restart');
      return Date.parse(h.Log[h.Log.length - 1].Start) > killedAt;
    }, 10_000);
    assert.equal(await d.ok(['exec', 'hc-restart', 'sh', '-c', 'ps -o args | grep -c "^sleep 0.3" || true']).then((n) => Number(n) <= 1), true, 'no pile of probes');
    await d.ok(['rm', '-f', 'hc-restart']);
  });

  test("docker-compose 1.29's depends_on service_healthy waits for health, as with dockerd", async () => {
    const dir = path.join(d.dir, 'compose-health');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), [
      'version: "2.4"',
      'services:',
      '  db:',
      '    image: busybox',
      '    command: sh -c "sleep 2; touch /tmp/ready; exec sleep 1000"',
      '    stop_grace_period: 1s',
      '    healthcheck:',
      '      test: ["CMD", "test", "-f", "/tmp/ready"]',
      '      interval: 300ms',
      '      retries: 20',
      '  app:',
      '    image: busybox',
      '    command: sleep 1000',
      '    stop_grace_period: 1s',
      '    depends_on:',
      '      db:',
      '        condition: service_healthy',
      '',
    ].join('\n'));
    const env = { DOCKER_HOST: d.host, COMPOSE_PROJECT_NAME: 'hcproj' };
    const up = await exec('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), 'up', '-d'], { env, timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    const db = JSON.parse(await d.ok(['inspect', '-f', '{{json .State.Health}}', 'hcproj_db_1'])) as Health;
    const appStarted = Date.parse(await d.ok(['inspect', '-f', '{{.State.StartedAt}}', 'hcproj_app_1']));
    const firstHealthy = db.Log.find((r) => r.ExitCode === 0);
    assert.ok(firstHealthy && appStarted >= Date.parse(firstHealthy.End) - 50, 'app started after db was healthy');
    const down = await exec('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), 'down'], { env, timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
  });

  test("probes go through one agent per container: it reaps what probes leave, is replaced when killed, and leaves the image's files alone", async () => {
    // sleep as PID 1 reaps nothing: a probe's orphan left to it would stay a zombie (as under dockerd).
    await d.ok(['run', '-d', '--name', 'hc-agent', '--health-cmd', '(sleep 0.05 &); echo ok', '--health-interval', '100ms', 'busybox', 'sleep', '1000']);
    await until(d, 'hc-agent', 'healthy');
    await eventually(async () => (await health(d, 'hc-agent')).Log.length === 5, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const procs = await d.ok(['exec', 'hc-agent', 'ps', '-o', 'stat,args']);
    assert.equal(procs.split('\n').filter((l) => l.includes('/dev/.berth/berth-probe')).length, 1, procs);
    assert.equal(procs.split('\n').filter((l) => /^Z/.test(l.trim())).length, 0, `no zombies: ${procs}`);
    assert.equal(await d.ok(['diff', 'hc-agent']), '', 'nothing of the agent in the container\'s layer');
    // Killed from inside: the next probe starts another, and probing goes on.
    await d.ok(['exec', 'hc-agent', 'sh', '-c', 'kill -9 $(pidof berth-probe)']);
    const killedAt = Date.now();
    await eventually(async () => {
      const h = await health(d, 'hc-agent');
      return h.Status === 'healthy' && Date.parse(h.Log[h.Log.length - 1].Start) > killedAt + 200 && h.Log[h.Log.length - 1].ExitCode === 0;
    }, 10_000);
    assert.match(await d.ok(['exec', 'hc-agent', 'ps', '-o', 'args']), /\/dev\/\.berth\/berth-probe/);
    // A container with a /dev of its own gets no agent: its probes are exec sessions, with the same results.
    await d.ok(['run', '-d', '--name', 'hc-owndev', '--tmpfs', '/dev:dev,exec,mode=755', '--health-cmd', 'echo own', '--health-interval', '100ms', 'busybox', 'sleep', '1000']);
    await until(d, 'hc-owndev', 'healthy');
    assert.equal((await health(d, 'hc-owndev')).Log[0].Output, 'own\n');
    assert.doesNotMatch(await d.ok(['exec', 'hc-owndev', 'ps', '-o', 'args']), /berth-probe/);
    await d.ok(['rm', '-f', 'hc-agent', 'hc-owndev']);
  });

  test('bad input: clear errors, docker status codes, nothing made', async () => {
    const before = await d.ok(['ps', '-aq']);
    const cases: [string[], RegExp][] = [
      [['--health-interval', 'soon'], /invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon"/],
      [['--health-timeout', '-1s'], /--health-timeout cannot be negative/],
      [['--health-retries', '-1', '--health-cmd', 'true'], /Retries in Healthcheck cannot be negative/],
      [['--health-interval', '100us', '--health-cmd', 'true'], /Interval in Healthcheck cannot be less than 1ms/],
      [['--no-healthcheck', '--health-cmd', 'true'], /--no-healthcheck conflicts with --health-\* options/],
      [['--health-on-failure', 'reboot', '--health-cmd', 'true'], /invalid health-on-failure action "reboot": none, kill, restart or stop/],
      [['--health-on-failure', 'restart'], /--health-on-failure restart needs a health check/],
    ];
    for (const [flags, re] of cases) {
      const r = await d.berth(['create', ...flags, 'busybox', 'true']);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, re, flags.join(' '));
    }
    const api = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', d.socket, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], Retries: -2 } }), 'http://x/containers/create']);
    assert.equal(api.stdout, '400');
    assert.equal(await d.ok(['ps', '-aq']), before, 'nothing was made');
    // A shell probe where the image has no shell: the probe says why it failed.
    await d.ok(['run', '-d', '--name', 'hc-noshell', '--health-cmd', 'true', '--health-interval', '200ms', '--health-retries', '1', '--entrypoint', '/bin/sleep', 'busybox', '1000']);
    await d.ok(['exec', 'hc-noshell', 'rm', '/bin/sh']);
    await until(d, 'hc-noshell', 'unhealthy');
    const h = await health(d, 'hc-noshell');
    assert.match(h.Log[h.Log.length - 1].Output, /OCI runtime exec failed: .*\/bin\/sh.*(no such file|not found)/i);
    await d.ok(['rm', '-f', 'hc-noshell']);
    await d.assertClean();
  });

  test('--health-probes exec: every probe an exec session, as dockerd runs them, with the same results', async () => {
    await d.kill();
    await d.start(['--health-probes', 'exec']);
    await d.ok(['run', '-d', '--name', 'hc-exec', '--health-cmd', 'echo via exec', '--health-interval', '100ms', 'busybox', 'sleep', '1000']);
    await d.ok(['run', '-d', '--name', 'hc-exec-hang', '--health-cmd', 'echo started; sleep 600', '--health-timeout', '300ms', '--health-interval', '200ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
    await until(d, 'hc-exec', 'healthy');
    assert.equal((await health(d, 'hc-exec')).Log[0].Output, 'via exec\n');
    assert.doesNotMatch(await d.ok(['exec', 'hc-exec', 'ps', '-o', 'args']), /berth-probe/);
    await until(d, 'hc-exec-hang', 'unhealthy');
    assert.equal((await health(d, 'hc-exec-hang')).Log[0].Output, 'Health check exceeded timeout (300ms): started\n');
    await d.ok(['rm', '-f', 'hc-exec', 'hc-exec-hang']);
    await d.assertClean();
  });
});
