import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { api, eventually } from './harness';
import { countingProxy, dockerOn as docker, Lab, type LabNode, spreadOf, taskContainers as containersOn, total } from './lab';
import { TestRegistry } from './registry-harness';

/**
 * Three daemons in a lab of network namespaces on this host, joined into
 * one cluster by the docker CLI (node1 the manager with the etcd member,
 * node2 and node3 workers reaching it over the lab's link): spread, a
 * node's death and return, drain.
 */
describe('a three-node cluster in a lab', { timeout: 600_000 }, () => {
  const lab = new Lab();
  before(() => lab.up(3));
  after(() => lab.down());

  const manager = () => lab.nodes[0];
  const spread = (service: string) => spreadOf(manager(), service);
  const taskContainers = async (node: LabNode) => (await containersOn(node)).length;

  test('workers join the manager\'s cluster with its token; a wrong token is refused', async () => {
    await docker(manager(), ['swarm', 'init', '--advertise-addr', manager().ip]);
    const token = await docker(manager(), ['swarm', 'join-token', '-q', 'worker']);
    const addr = await docker(manager(), ['node', 'inspect', 'self', '--format', '{{.ManagerStatus.Addr}}']);
    assert.match(addr, new RegExp(`^${manager().ip.replace(/\./g, '\\.')}:\\d+$`));
    const bad = await lab.nodes[1].daemon.docker(['swarm', 'join', '--token', `${token}x`, addr]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /A valid join token is necessary/);
    // The token pins the cluster's CA: a token of another CA is refused before it is sent.
    const otherCa = token.replace(/^(SWMTKN-1-)[0-9a-z]{50}/, `$1${'0'.repeat(50)}`);
    const pinned = await lab.nodes[1].daemon.docker(['swarm', 'join', '--token', otherCa, addr]);
    assert.notEqual(pinned.code, 0);
    assert.match(pinned.stderr, /remote CA does not match fingerprint of the join token/);
    // The store takes no client without a certificate of the cluster's CA.
    const st = JSON.parse(fs.readFileSync(path.join(manager().daemon.dataRoot, 'cluster', 'state.json'), 'utf8')) as { member: { host: string; clientPort: number } };
    const anonymous = await new Promise<string>((resolve) => {
      const req = https.get({ host: st.member.host, port: st.member.clientPort, path: '/version', rejectUnauthorized: false, timeout: 5000 }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e) => resolve(`refused: ${e.message}`));
    });
    assert.match(anonymous, /^refused/);
    for (const n of lab.nodes.slice(1)) await docker(n, ['swarm', 'join', '--token', token, addr]);
    assert.deepEqual((await docker(manager(), ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'])).split('\n').map((l) => l.trim()).sort(), ['node1 Ready Leader', 'node2 Ready', 'node3 Ready']);
    const worker = await lab.nodes[1].daemon.docker(['service', 'ls']);
    assert.match(worker.stderr, /not a swarm manager/);
  });

  test('replicas spread over the nodes', async () => {
    await docker(manager(), ['service', 'create', '--detach', '--name', 'web', '--replicas', '6', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => total(await spread('web')) === 6, 60_000);
    assert.deepEqual(await spread('web'), { node1: 2, node2: 2, node3: 2 });
  });

  test('service logs: each task\'s lines from its node, named as docker names them; --raw, --tail and -f; bad input refused', async () => {
    await docker(manager(), ['service', 'create', '--detach', '--name', 'talk', '--replicas', '2', '--replicas-max-per-node', '1', '--stop-grace-period', '1s', '--no-resolve-image',
      'busybox', 'sh', '-c', 'echo hello; i=0; while :; do i=$((i+1)); echo tick $i; echo oops $i >&2; sleep 1; done']);
    await eventually(async () => total(await spread('talk')) === 2, 60_000);
    const nodes = Object.keys(await spread('talk'));
    await eventually(async () => (await docker(manager(), ['service', 'logs', '--raw', 'talk'])).split('\n').filter((l) => l === 'hello').length === 2, 30_000);
    const named = await docker(manager(), ['service', 'logs', 'talk']);
    for (const n of nodes) assert.match(named, new RegExp(`^talk\\.[12]\\.[0-9a-z]+@${n}\\s+\\| hello$`, 'm'));
    // Berth's own command names them as docker's does.
    const ours = await manager().daemon.berth(['service', 'logs', 'talk']);
    assert.equal(ours.code, 0, ours.stderr);
    const hellos = (text: string) => text.split('\n').filter((l) => l.endsWith('| hello')).sort();
    assert.deepEqual(hellos(ours.stdout), hellos(named));
    assert.equal(hellos(ours.stdout).length, 2);
    // Both streams, kept apart as docker keeps them.
    const split = await manager().daemon.docker(['service', 'logs', '--raw', '--tail', '2', 'talk']);
    assert.match(split.stdout, /^tick \d+$/m);
    assert.match(split.stderr, /^oops \d+$/m);
    assert.ok(split.stdout.split('\n').filter(Boolean).length <= 4, split.stdout);
    // Following: new lines keep coming from both tasks.
    const followed = await manager().daemon.docker(['service', 'logs', '--raw', '-f', '--tail', '1', 'talk'], { timeoutMs: 4500 });
    const ticks = new Set(followed.stdout.split('\n').filter((l) => l.startsWith('tick')));
    assert.ok(ticks.size >= 4, `followed: ${followed.stdout}`);
    const stamped = await docker(manager(), ['service', 'logs', '--raw', '-t', '--tail', '4', 'talk']);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick \d+$/m);
    const missing = await manager().daemon.docker(['service', 'logs', 'nosuch']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no such task or service: nosuch/);
    const worker = await lab.nodes[1].daemon.docker(['service', 'logs', 'talk']);
    assert.match(worker.stderr, /not a swarm manager/);
    await docker(manager(), ['service', 'rm', 'talk']);
  });

  test('a node that dies has its tasks running elsewhere within seconds; back, its stale containers are stopped, none doubled', async () => {
    const dead = lab.nodes[2];
    const t0 = Date.now();
    await lab.kill(dead);
    await eventually(async () => {
      const s = await spread('web');
      return total(s) === 6 && !s.node3;
    }, 60_000);
    const moved = Date.now() - t0;
    assert.ok(moved > 0, `replacements running ${moved} ms after the node died`);
    assert.match(await docker(manager(), ['node', 'ls', '--filter', 'name=node3', '--format', '{{.Status}}']), /^Down$/);
    // Its containers ran on while it was cut off; back, it stops them.
    await lab.revive(dead);
    await eventually(async () => (await taskContainers(dead)) === 0, 60_000);
    await eventually(async () => (await docker(manager(), ['node', 'ls', '--filter', 'name=node3', '--format', '{{.Status}}'])) === 'Ready', 30_000);
    assert.equal(total(await spread('web')), 6);
    assert.equal((await taskContainers(lab.nodes[0])) + (await taskContainers(lab.nodes[1])), 6);
  });

  test('drain moves a node\'s tasks away; active again, it takes new ones', async () => {
    await docker(manager(), ['node', 'update', '--availability', 'drain', 'node2']);
    await eventually(async () => {
      const s = await spread('web');
      return total(s) === 6 && !s.node2;
    }, 60_000);
    await eventually(async () => (await taskContainers(lab.nodes[1])) === 0, 60_000);
    await docker(manager(), ['node', 'update', '--availability', 'active', 'node2']);
    await docker(manager(), ['service', 'scale', '--detach', 'web=9']);
    await eventually(async () => total(await spread('web')) === 9, 60_000);
    assert.ok((await spread('web')).node2 >= 3, 'the emptiest node took the new replicas');
  });

  test('drain of a start-first service: each task runs until its replacement runs elsewhere; node ps --services lists what lives on a node', async () => {
    await docker(manager(), ['service', 'create', '--detach', '--name', 'api', '--replicas', '2', '--replicas-max-per-node', '1', '--update-order', 'start-first', '--label', 'owner=team-a',
      '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => total(await spread('api')) === 2, 60_000);
    const from = Object.keys(await spread('api')).sort()[0];
    const node = lab.nodes.find((n) => n.name === from)!;
    const listed = await manager().daemon.berth(['node', 'ps', '--services', from]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^SERVICE\s+TASKS\s+LABELS$/m);
    assert.match(listed.stdout, /^api\s+1\/1\s+owner=team-a$/m);
    assert.match(listed.stdout, /^web\s+\d+\/\d+\s*$/m);
    await docker(manager(), ['node', 'update', '--availability', 'drain', from]);
    await eventually(async () => {
      const s = await spread('api');
      return total(s) === 2 && !s[from];
    }, 60_000);
    // The old task stopped only once its replacement ran: its end is stamped after the new one's start.
    const drainedId = await docker(manager(), ['node', 'inspect', from, '--format', '{{.ID}}']);
    type T = { NodeID: string; DesiredState: string; Status: { State: string; Timestamp: string } };
    const tasks = async () => JSON.parse((await api(manager().daemon, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['api'] }))}`)).body) as T[];
    const old = await eventually(async () => (await tasks()).find((t) => t.NodeID === drainedId && t.Status.State === 'shutdown'), 30_000) as T;
    const fresh = (await tasks()).filter((t) => t.NodeID !== drainedId && t.DesiredState === 'running' && t.Status.State === 'running');
    assert.ok(fresh.some((t) => Date.parse(t.Status.Timestamp) <= Date.parse(old.Status.Timestamp)), `stopped at ${old.Status.Timestamp}, replacements ran at ${fresh.map((t) => t.Status.Timestamp)}`);
    await eventually(async () => (await containersOn(node, 'api')).length === 0, 30_000);
    await docker(manager(), ['node', 'update', '--availability', 'active', from]);
    await docker(manager(), ['service', 'rm', 'api']);
  });

  test('rebalance: a labelled service\'s replica leaves the node a CPU hog keeps busy; the hog, unlabelled, stays; bad settings are refused', async () => {
    // The threshold half the difference one busy core makes between nodes (loads are shares of this host's cores).
    const threshold = (0.25 / os.cpus().length).toFixed(4);
    const bad = await manager().daemon.berth(['cluster', 'update', '--rebalance-threshold', 'lots']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid berth\.rebalance\.threshold "lots"/);
    // A setting Berth does not take is refused by name, not ignored.
    const heartbeat = await manager().daemon.docker(['swarm', 'update', '--dispatcher-heartbeat', '10s']);
    assert.notEqual(heartbeat.code, 0);
    assert.match(heartbeat.stderr, /changing Dispatcher is not supported by Berth's cluster/);
    const ok = await manager().daemon.berth(['cluster', 'update', '--rebalance-threshold', threshold]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await docker(manager(), ['info', '--format', '{{index .Swarm.Cluster.Spec.Labels "berth.rebalance.threshold"}}']), threshold);
    await docker(manager(), ['service', 'create', '--detach', '--name', 'app', '--replicas', '3', '--label', 'berth.rebalance=true', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => total(await spread('app')) === 3, 60_000);
    const busy = Object.keys(await spread('app')).sort()[0];
    await docker(manager(), ['service', 'create', '--detach', '--name', 'hog', '--constraint', `node.hostname==${busy}`, '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sh', '-c', 'while :; do :; done']);
    await eventually(async () => {
      const s = await spread('app');
      return total(s) === 3 && !s[busy];
    }, 90_000);
    assert.deepEqual(await spread('hog'), { [busy]: 1 });
    await eventually(async () => (await containersOn(lab.nodes.find((n) => n.name === busy)!, 'app')).length === 0, 30_000);
    await docker(manager(), ['service', 'rm', 'hog', 'app']);
  });

  test('three nodes pulling one image at once cost its registry one copy: each blob comes from the registry once, then from the node that holds it; a node that pulls later gets it from them', async () => {
    const reg = new TestRegistry();
    await reg.start();
    // The registry on the host's loopback, reached by the nodes through a proxy on the lab's link that counts what it serves.
    const proxy = await countingProxy(lab.gateway, reg.port);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-peers-'));
    try {
      const image = `${lab.gateway}:${proxy.port}/shared:1`;
      // Three layers of random bytes, which no compression shrinks.
      fs.writeFileSync(path.join(dir, 'Dockerfile'), ['FROM busybox', ...['a', 'b', 'c'].map((f) => `RUN head -c 2000000 /dev/urandom > /${f}`)].join('\n'));
      assert.equal((await manager().daemon.berth(['build', '-q', '-t', image, dir])).code, 0);
      await docker(manager(), ['push', image]);
      const manifest = (await reg.request('GET', '/v2/shared/manifests/1', { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } })).json() as { config: { size: number }; layers: { size: number }[] };
      // What a node lacks: the config and the three layers on busybox's (every lab node has busybox).
      assert.equal(manifest.layers.length, 4);
      const copy = manifest.config.size + manifest.layers.slice(1).reduce((a, l) => a + l.size, 0);
      assert.ok(copy > 6_000_000, `the image's new blobs: ${copy} bytes`);
      // node1 built it, so it held its blobs and said so; removed, its blobs go, and it says that too.
      await docker(manager(), ['rmi', image]);
      proxy.reset();
      // The three nodes pull it at once.
      const lines = (await manager().daemon.ok(['image', 'prefetch', '--nodes', 'all', image])).split('\n').sort();
      assert.equal(lines.length, 3, lines.join('\n'));
      for (const n of ['node1', 'node2', 'node3']) assert.match(lines.find((l) => l.startsWith(n))!, /: pulled/);
      for (const n of lab.nodes) assert.equal(await docker(n, ['image', 'inspect', '--format', '{{index .RepoTags 0}}', image]), image);
      // Three nodes pulled; the registry sent one copy (and the manifests), not three.
      const served = proxy.served();
      assert.ok(served >= copy && served < 1.3 * copy, `the registry served ${served} bytes for an image of ${copy}`);
      // A node that pulls what others hold gets it from them: the registry sends the manifests alone.
      await docker(lab.nodes[2], ['rmi', image]);
      proxy.reset();
      await docker(lab.nodes[2], ['pull', image]);
      assert.ok(proxy.served() < copy / 10, `the registry served ${proxy.served()} bytes for an image its peers hold`);
      for (const n of lab.nodes) await docker(n, ['rmi', image]);
    } finally {
      await proxy.close();
      await reg.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('node promote makes a worker a manager (its own etcd member, the API\'s manager endpoints); demote makes it a worker again; the last manager stays', async () => {
    const last = await manager().daemon.docker(['node', 'demote', 'node1']);
    assert.notEqual(last.code, 0);
    assert.match(last.stderr, /attempting to demote the last manager of the swarm/);
    const node2 = lab.nodes[1];
    await docker(manager(), ['node', 'promote', 'node2']);
    // The node carries it out itself: a manager's certificate from a manager, its etcd member, its manager loop.
    await eventually(async () => (await node2.daemon.docker(['service', 'ls'])).code === 0, 60_000);
    assert.equal(await docker(manager(), ['node', 'inspect', 'node2', '--format', '{{.Spec.Role}} {{.ManagerStatus.Reachability}}']), 'manager reachable');
    assert.equal(await docker(node2, ['node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}}']), 'node1\nnode2');
    const members = (n: LabNode) => JSON.parse(fs.readFileSync(path.join(n.daemon.dataRoot, 'cluster', 'state.json'), 'utf8')) as { role: string; member?: unknown };
    assert.equal(members(node2).role, 'manager');
    assert.ok(members(node2).member, 'the promoted node runs an etcd member');
    // Its manager's files, kept to stage a crash in the middle of the demotion below.
    const clusterDir = path.join(node2.daemon.dataRoot, 'cluster');
    const kept = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-demote-'));
    fs.copyFileSync(path.join(clusterDir, 'state.json'), path.join(kept, 'state.json'));
    fs.cpSync(path.join(clusterDir, 'tls'), path.join(kept, 'tls'), { recursive: true });
    // Through the new manager, the cluster is run as through the first: a service made there runs.
    await docker(node2, ['service', 'create', '--detach', '--name', 'via2', '--replicas', '2', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => total(await spread('via2')) === 2, 60_000);
    await docker(node2, ['service', 'rm', 'via2']);
    await docker(manager(), ['node', 'demote', 'node2']);
    await eventually(async () => /not a swarm manager/.test((await node2.daemon.docker(['service', 'ls'])).stderr), 60_000);
    assert.equal(members(node2).role, 'worker');
    assert.equal(members(node2).member, undefined);
    assert.equal(fs.existsSync(path.join(node2.daemon.dataRoot, 'cluster', 'etcd')), false, 'the demoted node keeps no etcd data');
    assert.equal(fs.existsSync(path.join(node2.daemon.dataRoot, 'cluster', 'tls', 'ca.key')), false, 'the demoted node keeps the CA\'s key');
    await eventually(async () => (await docker(manager(), ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).split('\n').includes('node2 Ready'), 30_000);
    assert.equal(await docker(manager(), ['node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}}']), 'node1');
    // A crash cut the demotion short once the store had let its member go: the node starts with its manager's state,
    // certificate, CA key and member data. The other members no longer count it, so it finishes the demotion.
    await node2.daemon.stop();
    fs.copyFileSync(path.join(kept, 'state.json'), path.join(clusterDir, 'state.json'));
    fs.rmSync(path.join(clusterDir, 'tls'), { recursive: true, force: true });
    fs.cpSync(path.join(kept, 'tls'), path.join(clusterDir, 'tls'), { recursive: true });
    fs.rmSync(kept, { recursive: true, force: true });
    fs.mkdirSync(path.join(clusterDir, 'etcd', 'member'), { recursive: true });
    await lab.start(node2);
    await eventually(() => members(node2).role === 'worker', 30_000);
    assert.equal(members(node2).member, undefined);
    assert.equal(fs.existsSync(path.join(clusterDir, 'etcd')), false);
    assert.equal(fs.existsSync(path.join(clusterDir, 'tls', 'ca.key')), false);
    await eventually(async () => /not a swarm manager/.test((await node2.daemon.docker(['service', 'ls'])).stderr), 30_000);
    await eventually(async () => (await docker(manager(), ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).split('\n').includes('node2 Ready'), 30_000);
    assert.equal(await docker(manager(), ['node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}}']), 'node1');
  });

  test('the service goes; every node leaves; nothing is left', async () => {
    await docker(manager(), ['service', 'rm', 'web']);
    for (const n of lab.nodes) {
      await eventually(async () => (await n.daemon.docker(['ps', '-aq', '--filter', 'label=com.docker.swarm.task.id'])).stdout.trim() === '', 60_000).catch(async (e) => {
        const left = await n.daemon.docker(['ps', '-a', '--filter', 'label=com.docker.swarm.task.id', '--format', '{{.Names}} {{.Status}}']);
        const tasks = await manager().daemon.docker(['service', 'ps', 'web']);
        throw new Error(`${n.name} keeps task containers: ${left.stdout}\n${tasks.stdout}${tasks.stderr}\n${e}`);
      });
    }
    // A node up cannot be removed without --force; one that left shows down and is removed; a manager cannot be.
    const up = await manager().daemon.docker(['node', 'rm', 'node3']);
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /is not down and can't be removed/);
    for (const n of lab.nodes.slice(1)) await docker(n, ['swarm', 'leave']);
    await eventually(async () => (await docker(manager(), ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).split('\n').filter((l) => l.endsWith('Down')).length === 2, 30_000);
    await docker(manager(), ['node', 'rm', 'node2', 'node3']);
    assert.equal(await docker(manager(), ['node', 'ls', '--format', '{{.Hostname}}']), 'node1');
    const self = await manager().daemon.docker(['node', 'rm', '--force', 'node1']);
    assert.match(self.stderr, /must be demoted to worker before removal/);
    await docker(manager(), ['swarm', 'leave', '--force']);
    for (const n of lab.nodes) await n.daemon.assertClean();
  });
});
