import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, processesMentioning, TestDaemon } from './harness';
import { TestRegistry } from './registry-harness';

/**
 * One daemon as a one-node cluster, driven by the docker CLI's swarm
 * commands (Debian's 20.10): init, services placed, healed, scaled,
 * updated and removed, leave. The etcd member it runs is real (Debian's
 * etcd-server).
 */
describe('a one-node cluster through the docker CLI', { timeout: 300_000 }, () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start(['--proc-view', 'host']);
    await d.importBusybox();
  });
  after(() => d.cleanup());

  const docker = async (args: string[]) => {
    const r = await d.docker(args, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  const tasks = async (service: string) =>
    (await docker(['service', 'ps', '--no-trunc', '--format', '{{.Name}} {{.DesiredState}} {{.CurrentState}} {{.Error}}', service])).split('\n').filter(Boolean);
  const running = async (service: string) => (await tasks(service)).filter((l) => / Running Running /.test(l)).length;
  const containers = async () => (await docker(['ps', '-q', '--filter', 'label=com.docker.swarm.task.id'])).split('\n').filter(Boolean);

  test('outside a cluster the swarm endpoints say so, as dockerd does', async () => {
    const r = await d.docker(['service', 'ls']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /This node is not a swarm manager/);
    assert.match(await docker(['info', '--format', '{{.Swarm.LocalNodeState}}']), /^inactive$/);
  });

  test('swarm init makes this node the leader of a new cluster, with its etcd member', async () => {
    const out = await docker(['swarm', 'init']);
    assert.match(out, /Swarm initialized: current node \(\w{25}\) is now a manager/);
    assert.match(out, /docker swarm join --token SWMTKN-1-\S+ \S+:\d+/);
    assert.equal(await docker(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}}']), 'active true 1');
    assert.match(await docker(['node', 'ls', '--format', '{{.Status}} {{.Availability}} {{.ManagerStatus}}']), /^Ready Active Leader$/);
    assert.equal(processesMentioning(d.dataRoot).filter((p) => / etcd /.test(p) || /\/etcd /.test(p)).length, 1, 'one etcd member, under the data root');
    const again = await d.docker(['swarm', 'init']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already part of a swarm/);
  });

  test('a service\'s replicas run as containers with swarm\'s labels; a task that dies is replaced per its restart policy', async () => {
    // busybox's sleep as pid 1 ignores SIGTERM: a short grace keeps stops quick.
    await docker(['service', 'create', '--name', 'web', '--replicas', '3', '--restart-delay', '1s', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '1000']);
    await eventually(async () => (await running('web')) === 3, 60_000);
    assert.equal(await docker(['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}']), 'web replicated 3/3');
    const ids = await containers();
    assert.equal(ids.length, 3);
    const labels = JSON.parse(await docker(['inspect', '--format', '{{json .Config.Labels}}', ids[0]]));
    assert.equal(labels['com.docker.swarm.service.name'], 'web');
    await docker(['kill', ids[0]]);
    await eventually(async () => (await running('web')) === 3 && (await tasks('web')).some((l) => /Shutdown Failed .*task: non-zero exit \(137\)/.test(l)), 60_000);
    assert.equal((await containers()).length, 3);
  });

  test('scaling changes the replicas only; an update rolls out new tasks one at a time', async () => {
    await docker(['service', 'scale', 'web=1']);
    await eventually(async () => (await containers()).length === 1, 60_000);
    const wanted = async () => (await docker(['service', 'ps', '-q', '--filter', 'desired-state=running', 'web'])).split('\n').filter(Boolean);
    const [kept] = await wanted();
    await docker(['service', 'scale', 'web=2']);
    await eventually(async () => (await running('web')) === 2, 60_000);
    assert.ok((await wanted()).includes(kept), 'scaling up left the running task alone');
    await docker(['service', 'update', '--env-add', 'COLOUR=blue', 'web']);
    const blue = async () => {
      const ids = await containers();
      const envs = await Promise.all(ids.map((id) => docker(['inspect', '--format', '{{json .Config.Env}}', id])));
      return ids.length === 2 && envs.every((e) => e.includes('COLOUR=blue'));
    };
    await eventually(blue, 60_000);
    assert.equal(await running('web'), 2);
  });

  const inspect = async (service: string, format: string) => docker(['service', 'inspect', '--format', format, service]);
  const envs = async () => Promise.all((await containers()).map((id) => docker(['inspect', '--format', '{{json .Config.Env}}', id])));

  test('docker service update waits on the roll-out and reports it completed; service rollback brings the previous spec back', async () => {
    // Not detached: the docker CLI follows UpdateStatus and the tasks until they converge.
    await docker(['service', 'update', '--update-monitor', '1s', '--update-order', 'start-first', '--env-add', 'SHADE=dark', 'web']);
    assert.equal(await inspect('web', '{{.UpdateStatus.State}} {{.UpdateStatus.Message}}'), 'completed update completed');
    // The old containers of a start-first update stop once their replacements run: within their grace period.
    await eventually(async () => {
      const e = await envs();
      return e.length === 2 && e.every((x) => x.includes('SHADE=dark'));
    }, 30_000);
    assert.equal(await running('web'), 2);
    await docker(['service', 'rollback', 'web']);
    assert.equal(await inspect('web', '{{.UpdateStatus.State}} {{.UpdateStatus.Message}}'), 'rollback_completed rollback completed');
    await eventually(async () => (await envs()).length === 2 && (await envs()).every((e) => e.includes('COLOUR=blue') && !e.includes('SHADE')), 30_000);
    assert.doesNotMatch(await inspect('web', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'), /SHADE/);
  });

  test('an update whose tasks fail within the monitor rolls back by itself (--update-failure-action rollback), or pauses (the default)', async () => {
    const before = await inspect('web', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}');
    const r = await d.docker(['service', 'update', '--update-failure-action', 'rollback', '--update-monitor', '2s', '--restart-delay', '1s', '--args', 'false', 'web'], { timeoutMs: 120_000 });
    assert.match(`${r.stdout}${r.stderr}`, /update rolled back due to failure or early termination of task/);
    await eventually(async () => (await inspect('web', '{{.UpdateStatus.State}}')) === 'rollback_completed', 60_000);
    assert.equal(await inspect('web', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'), before);
    await eventually(async () => (await running('web')) === 2, 60_000);
    // The default failure action pauses, naming the task; docker's CLI says so and fails.
    const paused = await d.docker(['service', 'update', '--update-monitor', '2s', '--args', 'false', 'web'], { timeoutMs: 120_000 });
    assert.notEqual(paused.code, 0);
    assert.match(paused.stderr, /service update paused: update paused due to failure or early termination of task \w+/);
    assert.equal(await inspect('web', '{{.UpdateStatus.State}}'), 'paused');
    // A paused update stays where it is; rollback ends it.
    await docker(['service', 'rollback', 'web']);
    await eventually(async () => (await running('web')) === 2 && (await inspect('web', '{{.UpdateStatus.State}}')) === 'rollback_completed', 60_000);
    assert.equal(await inspect('web', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'), before);
  });

  test('a service with a health check runs once healthy, and a task that turns unhealthy is replaced', async () => {
    await docker(['service', 'create', '--name', 'hc', '--health-cmd', 'test ! -f /tmp/bad', '--health-interval', '300ms', '--health-retries', '1', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '1000']);
    await eventually(async () => (await running('hc')) === 1, 30_000);
    const [id] = (await docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=hc'])).split('\n');
    assert.equal(await docker(['inspect', '--format', '{{.State.Health.Status}}', id]), 'healthy');
    await docker(['exec', id, 'touch', '/tmp/bad']);
    await eventually(async () => (await tasks('hc')).some((l) => /Shutdown Failed .*task: unhealthy container/.test(l)) && (await running('hc')) === 1, 60_000);
    assert.notEqual((await docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=hc'])).split('\n')[0], id);
    await docker(['service', 'rm', 'hc']);
  });

  test('a node that lacks a service\'s image pulls it (here from a registry on loopback); one no registry has is rejected, saying why', async () => {
    const reg = new TestRegistry();
    await reg.start();
    try {
      const image = `${reg.addr}/pulled:1`;
      await d.ok(['tag', 'busybox', image]);
      await d.ok(['push', image]);
      await d.ok(['rmi', image]);
      await docker(['service', 'create', '--detach', '--name', 'pulled', '--stop-grace-period', '1s', '--no-resolve-image', image, 'sleep', '1000']);
      await eventually(async () => (await running('pulled')) === 1, 60_000);
      assert.equal(await docker(['image', 'inspect', '--format', '{{index .RepoTags 0}}', image]), image);
      await docker(['service', 'rm', 'pulled']);
      await docker(['service', 'create', '--detach', '--name', 'nowhere2', '--no-resolve-image', `${reg.addr}/absent:1`, 'true']);
      await eventually(async () => (await tasks('nowhere2')).some((l) => /Rejected .*(not found|unknown)/i.test(l)), 60_000);
      await docker(['service', 'rm', 'nowhere2']);
      await d.ok(['rmi', image]);
    } finally {
      await reg.cleanup();
    }
  });

  test('--with-registry-auth: the nodes pull a private image with the credentials the client sent; without them the task is rejected, saying why', async () => {
    const reg = new TestRegistry();
    await reg.startForAlice();
    const config = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-auth-'));
    const env = { ...process.env, DOCKER_CONFIG: config };
    const as = async (args: string[]) => {
      const r = await d.berth(args, { env });
      assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout.trim();
    };
    try {
      const image = `${reg.addr}/alice/private:1`;
      await as(['login', '-u', 'alice', '-p', 'wonderland', reg.addr]);
      await as(['tag', 'busybox', image]);
      await as(['push', image]);
      await as(['rmi', image]);
      await as(['service', 'create', '--detach', '--name', 'anon', '--no-resolve-image', image, 'sleep', '1000']);
      await eventually(async () => (await tasks('anon')).some((l) => /Rejected .*(unauthorized|authentication required|denied)/i.test(l)), 60_000);
      await as(['service', 'rm', 'anon']);
      await as(['service', 'create', '--detach', '--name', 'authed', '--with-registry-auth', '--stop-grace-period', '1s', '--no-resolve-image', image, 'sleep', '1000']);
      await eventually(async () => (await running('authed')) === 1, 60_000);
      // The credentials are the nodes' to pull with, never shown back.
      assert.doesNotMatch(await docker(['service', 'inspect', 'authed']), /wonderland/);
      await as(['service', 'rm', 'authed']);
      await eventually(async () => (await d.berth(['rmi', image], { env })).code === 0, 30_000);
    } finally {
      fs.rmSync(config, { recursive: true, force: true });
      await reg.cleanup();
    }
  });

  test('image prefetch --nodes pulls on the nodes asked, a line each; a service\'s new image is pulled where its old version runs, before its task can start', async () => {
    const reg = new TestRegistry();
    await reg.start();
    try {
      const [v1, v2] = [`${reg.addr}/ahead:1`, `${reg.addr}/ahead:2`];
      for (const image of [v1, v2]) {
        await d.ok(['tag', 'busybox', image]);
        await d.ok(['push', image]);
        await d.ok(['rmi', image]);
      }
      const first = await d.berth(['image', 'prefetch', '--nodes', 'all', v1]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^\S+: pulled \(\d+(\.\d+)? s\)\n$/);
      assert.equal(await docker(['image', 'inspect', '--format', '{{index .RepoTags 0}}', v1]), v1);
      assert.match((await d.berth(['image', 'prefetch', '--nodes', 'all', v1])).stdout, /^\S+: already here/);
      const absent = await d.berth(['image', 'prefetch', '--nodes', 'all', `${reg.addr}/absent:1`]);
      assert.equal(absent.code, 1);
      assert.match(absent.stderr, /^\S+: .*(not found|unknown)/i);
      for (const [nodes, message] of [['zone', /invalid --nodes "zone": all, or a node label as KEY=VALUE/], ['zone=mars', /no ready node matches --nodes zone=mars/]] as const) {
        const r = await d.berth(['image', 'prefetch', '--nodes', nodes, v1]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, message);
      }
      // The node takes no new task (paused), yet pulls the service's new image as soon as the spec names it.
      await docker(['service', 'create', '--detach', '--name', 'ahead', '--stop-grace-period', '1s', '--no-resolve-image', v1, 'sleep', '1000']);
      await eventually(async () => (await running('ahead')) === 1, 60_000);
      await docker(['node', 'update', '--availability', 'pause', 'self']);
      await docker(['service', 'update', '--detach', '--no-resolve-image', '--image', v2, 'ahead']);
      // The image is here while the new task still waits for a node (none of it ran here).
      await eventually(async () => (await d.docker(['image', 'inspect', v2])).code === 0 && (await tasks('ahead')).some((l) => / Running Pending /.test(l)), 60_000);
      await docker(['node', 'update', '--availability', 'active', 'self']);
      await eventually(async () => (await running('ahead')) === 1, 60_000);
      await docker(['service', 'rm', 'ahead']);
      await eventually(async () => (await docker(['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name=ahead'])) === '', 30_000);
      await d.ok(['rmi', v1, v2]);
    } finally {
      await reg.cleanup();
    }
  });

  test('bad input: an unknown service, a bad constraint, a name taken; nothing made', async () => {
    const cases: [string[], RegExp][] = [
      [['service', 'inspect', 'nope'], /service nope not found|no such service/i],
      [['service', 'create', '--name', 'bad', '--constraint', 'node.colour==red', '--no-resolve-image', 'busybox', 'true'], /unknown key node\.colour/],
      [['service', 'create', '--name', 'web', '--no-resolve-image', 'busybox', 'true'], /already exists/],
      [['service', 'create', '--name', 'pub', '-p', '80:80', '--no-resolve-image', 'busybox', 'true'], /does not have the routing mesh yet .* --publish mode=host,published=80,target=80/],
    ];
    for (const [args, message] of cases) {
      const r = await d.docker(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.equal(await docker(['service', 'ls', '--format', '{{.Name}}']), 'web');
  });

  test('an impossible placement leaves the task pending with swarm\'s reason', async () => {
    await docker(['service', 'create', '--detach', '--name', 'nowhere', '--constraint', 'node.labels.zone==mars', '--no-resolve-image', 'busybox', 'sleep', '1000']);
    await eventually(async () => (await tasks('nowhere')).some((l) => /Running Pending .*no suitable node \(scheduling constraints not satisfied on 1 node\)/.test(l)), 30_000);
    await docker(['service', 'rm', 'nowhere']);
  });

  test('a daemon restart keeps the cluster and its tasks, none doubled', async () => {
    const ids = (await containers()).sort();
    await d.stop();
    await d.start(['--proc-view', 'host']);
    await eventually(async () => (await d.docker(['node', 'ls'])).code === 0, 30_000);
    await eventually(async () => (await running('web')) === 2, 30_000);
    assert.deepEqual((await containers()).sort(), ids);
  });

  test('swarm update --task-history-limit: the ended tasks kept per slot follow it, as swarm\'s; a bad value is refused', async () => {
    const ended = async () => (await tasks('web')).filter((l) => !/ Running Running /.test(l)).length;
    assert.ok((await ended()) > 2, 'web has a history of ended tasks by now');
    await docker(['swarm', 'update', '--task-history-limit', '1']);
    assert.equal(await docker(['info', '--format', '{{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}']), '1');
    // Two slots of web, one ended task kept in each at most.
    await eventually(async () => (await ended()) <= 2, 30_000);
    const bad = await d.berth(['cluster', 'update', '--task-history-limit', 'lots']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid argument "lots" for "--task-history-limit" flag/);
    await docker(['swarm', 'update', '--task-history-limit', '5']);
  });

  test('service rm removes its containers; swarm leave --force ends the cluster and leaves nothing', async () => {
    await docker(['service', 'rm', 'web']);
    await eventually(async () => (await d.docker(['ps', '-aq', '--filter', 'label=com.docker.swarm.task.id'])).stdout.trim() === '', 60_000);
    const r = await d.docker(['swarm', 'leave']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Use `--force`/);
    await docker(['swarm', 'leave', '--force']);
    assert.equal(await docker(['info', '--format', '{{.Swarm.LocalNodeState}}']), 'inactive');
    assert.equal(fs.existsSync(`${d.dataRoot}/cluster`), false);
    assert.deepEqual(processesMentioning(d.dataRoot).filter((p) => /etcd/.test(p)), []);
    await d.assertClean();
  });
});
