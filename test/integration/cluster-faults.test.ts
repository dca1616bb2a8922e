import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, processesMentioning, sleep } from './harness';
import { dockerOn as docker, Lab, type LabNode, spreadOf, taskContainers, total } from './lab';

/**
 * Faults in a lab of three managers (each with an etcd member) and two
 * workers: the leader killed during a rolling update, an etcd member
 * killed, a worker cut off for 30 s, every daemon restarted at once, a
 * node killed while its tasks start. After each, once converged: every
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
