import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, test } from 'node:test';
import { api, eventually, suiteDaemon } from './harness';

describe('container lifecycle through the berth CLI', () => {
  const d = suiteDaemon();

  test('run --rm prints output and leaves nothing', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(await d.ok(['ps', '-aq']), '');
  });

  test('run -i: piped input reaches the container and its end ends the container', async () => {
    assert.equal(await d.ok(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'wc -l; echo eof'], { input: 'a\nb\nc\n' }), '3\neof');
    assert.equal(await d.ok(['ps', '-aq']), '');
  });

  test('attach follows a running container to its end and exits with its code', async () => {
    const script = 'sleep 0.5; i=0; while [ $i -lt 3 ]; do echo tick $i; i=$((i+1)); sleep 0.2; done; exit 3';
    await d.ok(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', script]);
    const r = await d.berth(['attach', 'ticker']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'tick 0\ntick 1\ntick 2\n');
    const gone = await d.berth(['attach', 'ticker']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /You cannot attach to a stopped container/);
    await d.ok(['rm', 'ticker']);
  });

  test('parallel runs without names all start, each with a name of its own', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => d.ok(['run', '-d', 'busybox', 'sleep', '1000'])));
    const names = (await d.ok(['ps', '--format', '{{.Names}}'])).split('\n');
    assert.equal(names.length, 30);
    assert.equal(new Set(names).size, 30);
    await d.ok(['rm', '-f', ...ids]);
  });

  test('exit codes as docker reports them', async () => {
    assert.equal((await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
    const missing = await d.berth(['run', '--rm', 'busybox', 'nosuchcommand']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /executable file not found/);
    await d.ok(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '1000']);
    await d.ok(['kill', 'victim']);
    assert.equal(await d.ok(['wait', 'victim']), '137');
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'victim']), 'exited 137');
    await d.ok(['rm', 'victim']);
  });

  test('stdout and stderr stay apart in run and logs', async () => {
    const r = await d.berth(['run', '--name', 'io', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const logs = await d.berth(['logs', 'io']);
    assert.equal(logs.stdout, 'out\n');
    assert.equal(logs.stderr, 'err\n');
    const [first] = (await d.ok(['logs', '-t', 'io'])).split(' ');
    const after = new Date(Date.parse(first) + 1).toISOString();
    assert.equal((await d.berth(['logs', '--until', first, 'io'])).stdout, 'out\n');
    assert.equal((await d.berth(['logs', '--since', after, 'io'])).stdout, '');
    const ts = await d.berth(['logs', '-t', '--tail', '1', 'io']);
    assert.equal(ts.stdout, '');
    assert.match(ts.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err\n$/);
    await d.ok(['rm', 'io']);
  });

  test('stop, start, restart, pause, unpause, rename', async () => {
    await d.ok(['run', '-d', '--name', 'svc', 'busybox', 'sleep', '1000']);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}}', 'svc']), 'true');
    await d.ok(['pause', 'svc']);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}}', 'svc']), 'paused');
    const rmPaused = await d.berth(['rm', 'svc']);
    assert.equal(rmPaused.code, 1);
    assert.match(rmPaused.stderr, /You cannot remove a paused container [0-9a-f]{64}\. Unpause and then stop the container before attempting removal or force remove/);
    await d.ok(['unpause', 'svc']);
    await d.ok(['stop', '-t', '1', 'svc']);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'svc']), 'exited 137');
    await d.ok(['start', 'svc']);
    const pid1 = await d.ok(['inspect', '-f', '{{.State.Pid}}', 'svc']);
    await d.ok(['restart', '-t', '0', 'svc']);
    const pid2 = await d.ok(['inspect', '-f', '{{.State.Pid}}', 'svc']);
    assert.notEqual(pid1, pid2);
    await d.ok(['rename', 'svc', 'svc2']);
    assert.equal(await d.ok(['ps', '--format', '{{.Names}}']), 'svc2');
    await d.ok(['rm', '-f', 'svc2']);
  });

  test('removing a running container needs -f; names conflict', async () => {
    await d.ok(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '1000']);
    const rm = await d.berth(['rm', 'busy']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /cannot remove a running container/);
    const dup = await d.berth(['run', '-d', '--name', 'busy', 'busybox', 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /already in use/);
    await d.ok(['rm', '-f', 'busy']);
    // Between the restarts of its policy, a container is restarting, and that needs -f too (dockerd's words).
    const flapping = await d.ok(['run', '-d', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 1']);
    // The window between restarts starts at 100 ms and doubles: a look and a removal that miss it try the next one.
    let refused = { status: 0, body: '' };
    await eventually(async () => {
      await eventually(async () => (await d.ok(['inspect', '-f', '{{.State.Restarting}}', flapping])) === 'true', 30_000);
      refused = await api(d, 'DELETE', `/v1.41/containers/${flapping}`);
      return /restarting container/.test(refused.body);
    }, 60_000);
    assert.equal(refused.status, 409);
    assert.match(refused.body, new RegExp(`You cannot remove a restarting container ${flapping}\\. Stop the container before attempting removal or force remove`));
    await d.ok(['rm', '-f', flapping]);
  });

  test('kill: after a SIGKILL the container is dead when the call returns, as inspect right after shows', async () => {
    for (let i = 0; i < 10; i++) {
      const id = await d.ok(['run', '-d', 'busybox', 'sleep', '1000']);
      await d.ok(['kill', id]);
      assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}} {{.State.ExitCode}}', id]), 'false 137');
      await d.ok(['rm', id]);
    }
  });

  test("docker's network sysctls: non-root may bind ports below 1024 in a namespace of its own; --sysctl and host networking keep theirs", async () => {
    const has = fs.existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start');
    const read = (args: string[]) => d.ok(['run', '--rm', '-u', '65534', ...args, 'busybox', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start', '/proc/sys/net/ipv4/ping_group_range']);
    if (!has) {
      // A kernel without them: none is set, and containers start all the same.
      assert.equal((await d.berth(['run', '--rm', 'busybox', 'true'])).code, 0);
      return;
    }
    const host = fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim();
    {
      assert.match(await read([]), /^0\n0\s+2147483647$/);
      assert.match(await read(['--network', 'none']), /^0\n/);
      assert.match(await read(['--sysctl', 'net.ipv4.ip_unprivileged_port_start=1024']), /^1024\n/);
      assert.match(await read(['--network', 'host']), new RegExp(`^${host}\n`));
      // A web server as nobody on port 80, as images built for docker expect.
      assert.equal(await d.ok(['run', '--rm', '-u', '65534', 'busybox', 'sh', '-c', 'nc -l -p 80 & sleep 0.3; netstat -ltn | grep -c ":80 "']), '1');
    }
  });

  test('ps filters and formats', async () => {
    await d.ok(['run', '-d', '--name', 'f1', '--label', 'tier=web', 'busybox', 'sleep', '1000']);
    await d.ok(['create', '--name', 'f2', 'busybox', 'true']);
    assert.equal(await d.ok(['ps', '--format', '{{.Names}}']), 'f1');
    assert.equal(await d.ok(['ps', '-a', '--filter', 'status=created', '--format', '{{.Names}}']), 'f2');
    assert.equal(await d.ok(['ps', '-a', '--filter', 'label=tier=web', '--format', '{{.Names}} {{.Labels}}']), 'f1 tier=web');
    assert.equal(await d.ok(['ps', '-a', '--filter', 'ancestor=busybox', '--format', '{{.Names}}']), 'f2\nf1');
    const table = await d.ok(['ps', '-a', '--format', 'table {{.Names}}\t{{.State}}']);
    assert.match(table, /^NAMES\s+STATE\n/);
    await d.ok(['rm', '-f', 'f1', 'f2']);
  });

  test("ps: every filter of docker's applies, and a limit counts stopped containers", async () => {
    const names = (args: string[]) => d.ok(['ps', '-a', ...args, '--format', '{{.Names}}']).then((o) => o.split('\n').filter(Boolean));
    await d.ok(['network', 'create', 'psnet']);
    await d.ok(['create', '--name', 'p1', 'busybox', 'true']);
    await d.ok(['run', '-d', '--name', 'p2', '--network', 'psnet', '-p', '18080:80', '--expose', '81', 'busybox', 'sleep', '1000']);
    await d.ok(['run', '-d', '--name', 'p3', '-p', '80', 'busybox', 'sleep', '1000']);
    await d.ok(['run', '--name', 'p4', 'busybox', 'true']);
    assert.deepEqual(await names(['--filter', 'before=p3']), ['p2', 'p1']);
    assert.deepEqual(await names(['--filter', 'since=p2']), ['p4', 'p3']);
    assert.deepEqual(await names(['--filter', 'since=p1', '--filter', 'before=p4']), ['p3', 'p2']);
    assert.deepEqual(await names(['--filter', 'network=psnet']), ['p2']);
    const netId = await d.ok(['network', 'inspect', '-f', '{{.Id}}', 'psnet']);
    assert.deepEqual(await names(['--filter', `network=${netId.slice(0, 12)}`]), ['p2']);
    assert.deepEqual(await names(['--filter', 'publish=18080']), ['p2'], 'publish is the host port');
    assert.deepEqual(await names(['--filter', 'expose=80']), ['p3', 'p2'], 'expose is the container port');
    assert.deepEqual(await names(['--filter', 'expose=81/tcp']), ['p2']);
    assert.deepEqual(await names(['--filter', 'expose=81/udp']), []);
    assert.deepEqual(await names(['--filter', 'expose=79-81']), ['p3', 'p2']);
    assert.deepEqual(await names(['--filter', 'health=none']), ['p4', 'p3', 'p2', 'p1']);
    assert.deepEqual(await names(['--filter', 'health=healthy']), []);
    assert.deepEqual(await names(['--filter', 'is-task=true']), []);
    assert.deepEqual(await names(['--filter', 'is-task=false']), ['p4', 'p3', 'p2', 'p1']);
    // -n counts stopped containers too; without -a as well.
    assert.deepEqual((await d.ok(['ps', '-n', '2', '--format', '{{.Names}}'])).split('\n'), ['p4', 'p3']);
    for (const [f, msg] of [['health=fine', /Unrecognised filter value for health: fine/], ['is-task=maybe', /is-task=maybe/], ['publish=http', /publish=http/], ['before=nosuch', /No such container: nosuch/]] as const) {
      const r = await d.berth(['ps', '--filter', f]);
      assert.notEqual(r.code, 0, f);
      assert.match(r.stderr, msg);
    }
    assert.equal(await d.ok(['network', 'ls', '--filter', 'scope=local', '--filter', 'name=psnet', '--format', '{{.Name}}']), 'psnet');
    assert.equal(await d.ok(['network', 'ls', '--filter', 'scope=swarm', '--format', '{{.Name}}']), '');
    await d.ok(['rm', '-f', 'p1', 'p2', 'p3', 'p4']);
    await d.ok(['network', 'rm', 'psnet']);
  });

  test('stats: network I/O per interface and block I/O, in the API, berth stats and docker stats alike', async () => {
    const id = await d.ok(['run', '-d', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/f bs=1M count=4 conv=fsync 2>/dev/null; ping -c 2 -W 1 $(ip route | awk "/default/{print \\$3}") >/dev/null; touch /done; sleep 1000']);
    await eventually(async () => (await d.berth(['exec', id, 'test', '-e', '/done'])).code === 0, 20_000);
    const s = JSON.parse((await api(d, 'GET', `/v1.41/containers/${id}/stats?stream=0`)).body) as { networks: Record<string, { rx_bytes: number; tx_bytes: number }>; blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] } };
    assert.deepEqual(Object.keys(s.networks), ['eth0']);
    assert.ok(s.networks.eth0.rx_bytes > 0 && s.networks.eth0.tx_bytes > 0, JSON.stringify(s.networks));
    const written = s.blkio_stats.io_service_bytes_recursive.filter((e) => e.op.toLowerCase() === 'write').reduce((a, e) => a + e.value, 0);
    assert.ok(written >= 4 << 20, `${written} bytes written`);
    const columns = async (out: string) => out.split('\n')[1].split(/\s{2,}/).slice(5, 7);
    const berth = await columns(await d.ok(['stats', '--no-stream', id]));
    const docker = await columns((await d.docker(['stats', '--no-stream', id])).stdout);
    // The block column is settled; the network one moves between two calls (ARP), so only its shape is compared.
    assert.equal(berth[1], docker[1], 'BLOCK I/O as the docker CLI computes it');
    for (const net of [berth[0], docker[0]]) assert.match(net, /^[1-9][\d.]*k?B \/ [1-9][\d.]*k?B$/);
    await d.ok(['rm', '-f', id]);
  });

  test('exec: output, exit codes, env, user, workdir', async () => {
    await d.ok(['run', '-d', '--name', 'ex', 'busybox', 'sleep', '1000']);
    assert.equal(await d.ok(['exec', '-e', 'X=42', '-w', '/tmp', '-u', 'nobody', 'ex', 'sh', '-c', 'echo $X $(pwd) $(id -u)']), '42 /tmp 65534');
    assert.equal((await d.berth(['exec', 'ex', 'sh', '-c', 'exit 7'])).code, 7);
    // dockerd's codes: 126 for an exec that cannot start, missing or not executable (run says 127 and 126).
    for (const bad of ['nosuch', '/nosuch', '/etc']) assert.equal((await d.berth(['exec', 'ex', bad])).code, 126, bad);
    assert.equal((await d.berth(['run', '--rm', 'busybox', 'nosuch'])).code, 127);
    assert.equal((await d.berth(['run', '--rm', 'busybox', '/etc'])).code, 126);
    assert.equal(await d.ok(['exec', '-i', 'ex', 'head', '-c', '5'], { input: 'hello world' }), 'hello');
    assert.equal(await d.ok(['exec', '-i', 'ex', 'sh', '-c', 'cat; echo done'], { input: 'piped\n' }), 'piped\ndone');
    // More input than the daemon holds for a process that reads late: the client waits, nothing is lost.
    assert.equal(await d.ok(['exec', '-i', 'ex', 'sh', '-c', 'sleep 1; wc -c'], { input: 'x'.repeat(5 << 20) }), String(5 << 20));
    await d.ok(['rm', '-f', 'ex']);
  });

  test('restart policies restart failures and respect stop', async () => {
    await d.ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1']);
    await eventually(async () => (await d.ok(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'flaky'])) === '2 exited', 15_000);
    await d.ok(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2']);
    await eventually(async () => Number(await d.ok(['inspect', '-f', '{{.RestartCount}}', 'always'])) >= 1, 15_000);
    await d.ok(['stop', '-t', '1', 'always']);
    const count = await d.ok(['inspect', '-f', '{{.RestartCount}}', 'always']);
    // While another container with the same policy restarts twice, the stopped one stays stopped.
    await d.ok(['run', '-d', '--name', 'witness', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2']);
    await eventually(async () => Number(await d.ok(['inspect', '-f', '{{.RestartCount}}', 'witness'])) >= 2, 15_000);
    assert.equal(await d.ok(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', 'always']), `${count} false`);
    await d.ok(['rm', '-f', 'flaky', 'always', 'witness']);
  });

  test('bad input gets clear errors and creates nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['run', 'nosuchimage'], /No such image: nosuchimage/],
      [['run', 'Bad:Ref:x'], /invalid reference format/],
      [['run', '-m', '1k', 'busybox', 'true'], /Minimum memory limit allowed is 6MB/],
      [['run', '--cpus', String(os.availableParallelism() + 1), 'busybox', 'true'], /Range of CPUs/],
      [['run', '--cpus', 'lots', 'busybox', 'true'], /invalid argument "lots"/],
      [['run', '--restart', 'sometimes', 'busybox', 'true'], /invalid restart policy/],
      [['run', '--cap-add', 'NOPE', 'busybox', 'true'], /invalid capability/],
      [['run', '--nosuchflag', 'busybox'], /unknown flag: --nosuchflag/],
      [['run', '-v', 'rel/path:/x', 'busybox', 'true'], /use absolute path/],
    ];
    for (const [args, re] of cases) {
      const r = await d.berth(args);
      assert.equal(r.code, 125, `${args.join(' ')} → ${r.code}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    assert.equal(await d.ok(['ps', '-aq']), '');
  });

  test('nothing leaks after all of the above', () => d.assertClean());
});
