import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, processesMentioning, sleep } from './harness';
import { dockerOn as docker, Lab, type LabNode, spreadOf, taskContainers, total } from './lab';
import { caDigest, issueOwn, tokenDigest } from '../../src/cluster/tls/pki';

/**
 * Faults in a lab of three managers (each with an etcd member) and two
 * workers: the leader killed during a rolling update, an etcd member
 * killed, a worker cut off for 30 s, every daemon restarted at once, a
 * node killed while its tasks start, the CA rotated. After each, once converged: every
 * service has exactly its replicas running, none doubled (containers
 * counted on the nodes themselves), and `system check` is clean on every
 * node.
 */
describe('cluster faults in a lab of three managers and two workers', { timeout: 900_000 }, () => {
  const lab = new Lab();
  before(() => lab.up(5));
  after(() => lab.down());

  const managers = () => lab.nodes.slice(0, 3);
  const alive = new Set<LabNode>();
  /** A manager that is up (any will do: each reads the same store). */
  const manager = () => managers().find((n) => alive.has(n))!;
  const leader = async () => {
    const lines = (await docker(manager(), ['node', 'ls', '--format', '{{.Hostname}} {{.ManagerStatus}}'])).split('\n');
    return lab.nodes.find((n) => lines.includes(`${n.name} Leader`));
  };
  /** A node back: up, and (a manager) answering for the cluster again. */
  const back = async (n: LabNode) => {
    await eventually(async () => (await docker(managers().find((m) => alive.has(m))!, ['node', 'ls', '--filter', `name=${n.name}`, '--format', '{{.Status}}'])) === 'Ready', 60_000);
    if (managers().includes(n)) await eventually(async () => (await n.daemon.docker(['node', 'ls'])).code === 0, 60_000);
    alive.add(n);
  };
  const etcdOf = (n: LabNode) => processesMentioning(`${n.daemon.dataRoot}/cluster/etcd/data`).filter((p) => /etcd/.test(p));

  /** Exactly `replicas` running, as the managers say and as the nodes' own containers say. */
  const converged = async (service: string, replicas: number, timeoutMs = 90_000) => {
    await eventually(async () => {
      const s = await spreadOf(manager(), service);
      if (total(s) !== replicas) return false;
      let containers = 0;
      for (const n of lab.nodes.filter((x) => alive.has(x))) containers += (await taskContainers(n, service)).length;
      return containers === replicas;
    }, timeoutMs);
  };
  const checksClean = async () => {
    for (const n of lab.nodes.filter((x) => alive.has(x))) assert.equal(await n.daemon.ok(['system', 'check']), 'No problems found.', `${n.name}: system check`);
  };

  test('three managers join with the manager token (each adds an etcd member), two workers with the worker token', async () => {
    const [m1] = lab.nodes;
    await docker(m1, ['swarm', 'init', '--advertise-addr', m1.ip]);
    const addr = await docker(m1, ['node', 'inspect', 'self', '--format', '{{.ManagerStatus.Addr}}']);
    const managerToken = await docker(m1, ['swarm', 'join-token', '-q', 'manager']);
    const workerToken = await docker(m1, ['swarm', 'join-token', '-q', 'worker']);
    // node4 joins while node1 is the only manager: it learns of the others later, without a restart.
    await docker(lab.nodes[3], ['swarm', 'join', '--token', workerToken, addr]);
    for (const n of lab.nodes.slice(1, 3)) await docker(n, ['swarm', 'join', '--token', managerToken, addr]);
    await docker(lab.nodes[4], ['swarm', 'join', '--token', workerToken, addr]);
    for (const n of lab.nodes) alive.add(n);
    const ls = (await docker(m1, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'])).split('\n').map((l) => l.trim()).sort();
    assert.deepEqual(ls, ['node1 Ready Leader', 'node2 Ready Reachable', 'node3 Ready Reachable', 'node4 Ready', 'node5 Ready']);
    for (const n of managers()) assert.equal(etcdOf(n).length, 1, `${n.name} runs an etcd member`);
    for (const n of lab.nodes.slice(3)) assert.equal(etcdOf(n).length, 0, `${n.name} runs none`);
    // Any manager answers for the cluster; a worker does not.
    assert.match(await docker(lab.nodes[2], ['node', 'ls', '--format', '{{.Hostname}}']), /node5/);
    await docker(m1, ['service', 'create', '--detach', '--name', 'web', '--replicas', '6', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await converged('web', 6);
    // The early worker now reaches the store through every manager (it asks every 30 s), so it outlives node1.
    const endpointsOf = (n: LabNode) => (JSON.parse(fs.readFileSync(path.join(n.daemon.dataRoot, 'cluster', 'state.json'), 'utf8')) as { endpoints: string[] }).endpoints;
    await eventually(() => endpointsOf(lab.nodes[3]).length === 3, 45_000);
  });

  test('the leader SIGKILLed during a rolling update: another manager leads within seconds and finishes it; back, the old leader stops its stale containers', async () => {
    await docker(manager(), ['service', 'update', '--detach', '--update-monitor', '1s', '--env-add', 'WAVE=2', 'web']);
    const onV2 = async () => {
      let n = 0;
      for (const node of lab.nodes.filter((x) => alive.has(x))) {
        for (const id of await taskContainers(node, 'web')) if ((await docker(node, ['inspect', '--format', '{{json .Config.Env}}', id])).includes('WAVE=2')) n++;
      }
      return n;
    };
    await eventually(async () => (await onV2()) >= 1, 60_000);
    const old = (await leader())!;
    const t0 = Date.now();
    await lab.kill(old);
    alive.delete(old);
    const next = await eventually(async () => {
      const l = await leader().catch(() => undefined);
      return l && l !== old ? l : undefined;
    }, 30_000);
    const handover = Date.now() - t0;
    assert.ok(next && handover > 0, `a new leader (${next?.name}) ${handover} ms after the old one died`);
    await eventually(async () => (await docker(manager(), ['service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'web'])) === 'completed', 120_000);
    await converged('web', 6);
    assert.equal(await onV2(), 6);
    await lab.revive(old);
    await back(old);
    await converged('web', 6);
    await checksClean();
  });

  test('one etcd member of three killed: the cluster goes on, and the daemon starts its member again', async () => {
    // Another manager than the one the commands go to: a manager whose own member is down answers once it is back.
    const victim = managers().filter((n) => alive.has(n) && n !== manager()).pop()!;
    const [pid] = etcdOf(victim).map((p) => Number(p.trim().split(/\s+/)[0]));
    process.kill(pid, 'SIGKILL');
    await docker(manager(), ['service', 'scale', '--detach', 'web=8']);
    await converged('web', 8);
    await eventually(() => etcdOf(victim).length === 1 && !etcdOf(victim).some((p) => p.startsWith(`${pid} `)), 30_000);
    await eventually(async () => (await victim.daemon.docker(['service', 'ls'])).code === 0, 30_000);
    await checksClean();
  });

  test('a worker cut off for 30 s: its tasks run elsewhere meanwhile; healed, it stops its stale ones', async () => {
    // The worker that runs more of the service's tasks (earlier faults may have moved them all off one).
    const counts = await Promise.all(lab.nodes.slice(3).map(async (n) => ({ n, had: (await taskContainers(n, 'web')).length })));
    const { n: w, had } = counts.sort((a, b) => b.had - a.had)[0];
    assert.ok(had > 0, 'a worker runs tasks');
    const cutAt = Date.now();
    lab.cut(w, true);
    alive.delete(w);
    await eventually(async () => {
      const s = await spreadOf(manager(), 'web');
      return total(s) === 8 && !s[w.name];
    }, 60_000);
    await sleep(Math.max(0, cutAt + 30_000 - Date.now()));
    lab.cut(w, false);
    await back(w);
    await converged('web', 8);
    await checksClean();
  });

  test('every daemon restarted at once: the same containers run on, none doubled', async () => {
    const before = new Map<string, string[]>();
    for (const n of lab.nodes) before.set(n.name, (await taskContainers(n, 'web')).sort());
    await Promise.all(lab.nodes.map((n) => n.daemon.stop()));
    await Promise.all(lab.nodes.map((n) => lab.start(n)));
    for (const n of managers()) await eventually(async () => (await n.daemon.docker(['node', 'ls'])).code === 0, 60_000);
    await converged('web', 8);
    for (const n of lab.nodes) assert.deepEqual((await taskContainers(n, 'web')).sort(), before.get(n.name), `${n.name} kept its containers`);
    await checksClean();
  });

  test('a node killed while its tasks start: the service still gets exactly its replicas', async () => {
    const w = lab.nodes[3];
    await docker(manager(), ['service', 'create', '--detach', '--name', 'burst', '--replicas', '10', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => (await docker(manager(), ['service', 'ps', '--filter', `node=${w.name}`, '-q', 'burst'])).length > 0, 30_000);
    await lab.kill(w);
    alive.delete(w);
    await converged('burst', 10);
    await converged('web', 8);
    await lab.revive(w);
    await back(w);
    await converged('burst', 10);
    await converged('web', 8);
    await checksClean();
  });

  test('swarm ca --rotate through the docker CLI: every node moves to a new root while services run, etcd members one at a time; the old root is refused after; --cert-expiry applies; bad input changes nothing', async () => {
    const m = manager();
    const tlsDir = (n: LabNode) => path.join(n.daemon.dataRoot, 'cluster', 'tls');
    // A certificate of the old root, as one made with a stolen CA key would be.
    const stolen = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-oldca-'));
    try {
      for (const f of ['ca.crt', 'ca.key']) fs.copyFileSync(path.join(tlsDir(m), f), path.join(stolen, f));
      await issueOwn(stolen, { nodeId: 'intruder', clusterId: 'x', role: 'manager', ip: '127.0.0.1' }, 3600);
      const oldCreds = { cert: fs.readFileSync(path.join(stolen, 'node.crt')), key: fs.readFileSync(path.join(stolen, 'node.key')) };
      const members = managers().map((n) => (JSON.parse(fs.readFileSync(path.join(n.daemon.dataRoot, 'cluster', 'state.json'), 'utf8')) as { member: { host: string; clientPort: number } }).member);
      const etcdAnswers = (mb: { host: string; clientPort: number }) => new Promise<string>((resolve) => {
        const req = https.get({ host: mb.host, port: mb.clientPort, path: '/version', ...oldCreds, rejectUnauthorized: false, timeout: 5000 }, (res) => {
          res.resume();
          resolve(`answered ${res.statusCode}`);
        });
        req.on('error', (e) => resolve(`refused: ${e.message}`));
      });
      for (const mb of members) assert.equal(await etcdAnswers(mb), 'answered 200', 'before the rotation, the old root\'s certificates are the cluster\'s');
      const oldRoot = await docker(m, ['swarm', 'ca']);
      const oldToken = await docker(m, ['swarm', 'join-token', '-q', 'worker']);
      // Bad input, refused with nothing changed.
      const short = await m.daemon.docker(['swarm', 'update', '--cert-expiry', '30m']);
      assert.notEqual(short.code, 0);
      assert.match(short.stderr, /node certificate expiry must be at least 1h0m0s/);
      const leaf = await m.daemon.docker(['swarm', 'ca', '--rotate', '--ca-cert', path.join(stolen, 'node.crt'), '--ca-key', path.join(stolen, 'node.key')]);
      assert.notEqual(leaf.code, 0);
      assert.match(leaf.stderr, /the signing CA certificate is not a CA's/);
      assert.equal(await docker(m, ['info', '--format', '{{.Swarm.Cluster.RootRotationInProgress}}']), 'false');
      assert.equal(await docker(m, ['swarm', 'ca']), oldRoot);

      await docker(m, ['swarm', 'update', '--cert-expiry', '3h']);
      // The docker CLI follows the rotation until every node has come along, then prints the new root.
      const printed = await docker(m, ['swarm', 'ca', '--rotate']);
      const newRoot = await docker(m, ['swarm', 'ca']);
      assert.notEqual(newRoot, oldRoot);
      assert.ok(printed.endsWith(newRoot), printed);
      const want = await docker(m, ['info', '--format', '{{json .Swarm.Cluster.TLSInfo}}']);
      const root = new X509Certificate(newRoot);
      for (const n of lab.nodes) {
        assert.equal(await docker(m, ['node', 'inspect', n.name, '--format', '{{json .Description.TLSInfo}}']), want, `${n.name} shows the swarm's TLS info`);
        const chain = fs.readFileSync(path.join(tlsDir(n), 'node.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)!.length;
        const cert = new X509Certificate(fs.readFileSync(path.join(tlsDir(n), 'node.crt')));
        assert.equal(chain, 1, `${n.name}'s certificate is shown alone once the rotation is done`);
        assert.ok(cert.verify(root.publicKey), `${n.name}'s certificate is from the new root`);
        const hours = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 3_600_000;
        assert.ok(hours > 2.9 && hours < 3.1, `${n.name}'s certificate lasts the 3h asked (${hours} h)`);
      }
      const newToken = await docker(m, ['swarm', 'join-token', '-q', 'worker']);
      assert.equal(tokenDigest(newToken), caDigest(newRoot), 'the join token pins the new root');
      assert.notEqual(tokenDigest(oldToken), tokenDigest(newToken));
      // The services ran on through it, and the store takes changes.
      await converged('web', 8);
      await docker(m, ['service', 'scale', '--detach', 'burst=4']);
      await converged('burst', 4);
      // The old root is trusted nowhere: each etcd member (once it started again) and each node's endpoint refuse its certificates.
      await eventually(async () => (await Promise.all(members.map(etcdAnswers))).every((a) => a.startsWith('refused')), 60_000);
      const addr = await docker(m, ['node', 'inspect', 'self', '--format', '{{.ManagerStatus.Addr}}']);
      const [host, port] = addr.split(':');
      const endpoint = await new Promise<number | undefined>((resolve) => {
        const req = https.get({ host, port: Number(port), path: `/blobs/sha256:${'0'.repeat(64)}`, ...oldCreds, rejectUnauthorized: false, timeout: 5000 }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', () => resolve(undefined));
      });
      assert.equal(endpoint, 403);
      await checksClean();
    } finally {
      fs.rmSync(stolen, { recursive: true, force: true });
    }
  });

  test('services go, workers leave, managers leave (taking their members out): nothing is left', async () => {
    for (const s of ['web', 'burst']) await docker(manager(), ['service', 'rm', s]);
    for (const n of lab.nodes) await eventually(async () => (await taskContainers(n)).length === 0, 60_000);
    for (const n of lab.nodes.slice(3)) await docker(n, ['swarm', 'leave']);
    for (const n of [lab.nodes[2], lab.nodes[1], lab.nodes[0]]) await docker(n, ['swarm', 'leave', '--force']);
    for (const n of lab.nodes) {
      assert.equal(etcdOf(n).length, 0, `${n.name}: no etcd member left`);
      await n.daemon.assertClean();
    }
  });
});
