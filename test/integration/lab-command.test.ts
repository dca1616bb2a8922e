import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cgroupDirs, mountsUnder } from '../host';
import { BERTH, DOCKER, eventually, exec, suiteDaemon } from './harness';

/** Every process whose command line names the folder (daemons included). */
const processesUnder = (dir: string) => (spawnSync('pgrep', ['-af', dir], { encoding: 'utf8' }).stdout ?? '').split('\n').filter((l) => l && !l.includes('pgrep'));

/**
 * `berth lab` as a user runs it: a lab of three nodes (one manager) with
 * busybox loaded into each, the docker CLI pointed at it by `lab env`, a
 * node killed, started again, cut off and healed, and `lab down` leaving
 * nothing on the host.
 */
describe('berth lab', { timeout: 300_000 }, () => {
  const d = suiteDaemon();
  const name = `t${randomBytes(3).toString('hex')}`;
  const dir = `/var/lib/berth-lab/${name}`;
  let archive = '';
  let env: NodeJS.ProcessEnv = {};
  const lab = (args: string[]) => exec(BERTH, ['lab', ...args], { timeoutMs: 180_000 });
  const docker = async (args: string[]) => {
    const r = await exec(DOCKER, args, { env, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const running = async () => {
    const out = await docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}', 'web']);
    return out.split('\n').filter((l) => / Running /.test(` ${l.split(' ').slice(1).join(' ')} `)).map((l) => l.split(' ')[0]);
  };

  before(async () => {
    await d.importBusybox();
    archive = path.join(d.dir, 'busybox.tar');
    await d.ok(['save', '-o', archive, 'busybox:latest']);
  });
  after(async () => {
    if (fs.existsSync(dir)) await lab(['down', name]);
  });

  test('up makes the nodes, loads the images and forms the cluster; ls and env say where they are', async () => {
    const r = await lab(['up', '--name', name, '--nodes', '3', '--load', archive]);
    assert.equal(r.code, 0, r.stderr);
    const ls = (await lab(['ls', name])).stdout.trim().split('\n');
    assert.match(ls[0], /^NODE\s+ROLE\s+NETNS\s+ADDRESS\s+SOCKET\s+STATE$/);
    assert.deepEqual(ls.slice(1).map((l) => l.split(/\s+/).filter((_, i) => i !== 3 && i !== 4)), [
      [`${name}-node1`, 'manager', `${name}-node1`, 'up'], [`${name}-node2`, 'worker', `${name}-node2`, 'up'], [`${name}-node3`, 'worker', `${name}-node3`, 'up'],
    ]);
    const exports = (await lab(['env', name])).stdout;
    assert.match(exports, /^export BERTH_HOST=unix:\/\/\S+\nexport DOCKER_HOST=unix:\/\/\S+\n$/);
    env = { DOCKER_HOST: /DOCKER_HOST=(\S+)/.exec(exports)![1] };
    assert.equal(await docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']), [1, 2, 3].map((k) => `${name}-node${k} Ready`).join('\n'));
    assert.match((await lab(['ls'])).stdout, new RegExp(`^${name}$`, 'm'));
  });

  test('berth\'s own cluster, node and service commands, with docker\'s flags and output', async () => {
    const berth = async (args: string[]) => {
      const r = await exec(BERTH, args, { env: { BERTH_HOST: env.DOCKER_HOST }, timeoutMs: 120_000 });
      assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    assert.match(await berth(['cluster', 'status']), /^State: active\nNode: \w+ \(manager\)\nCluster: \w+\nNodes: 3 \(1 managers\)$/);
    assert.match(await berth(['node', 'ls']), new RegExp(`^ID\\s+HOSTNAME\\s+STATUS\\s+AVAILABILITY\\s+MANAGER STATUS\\s+ENGINE VERSION\\n\\w+ \\*\\s+${name}-node1\\s+Ready\\s+Active\\s+Leader`));
    // Not detached: it follows the service until it has converged.
    const out = await berth(['service', 'create', '--name', 'own', '--replicas', '2', '--stop-grace-period', '1s', '--update-monitor', '500ms', 'busybox', 'sleep', '100000']);
    assert.match(out, /^\w{25}\n(overall progress: \d out of 2 tasks\n)+verify: Service \w+ converged$/);
    assert.match(await berth(['service', 'ls']), /\n\w{12}\s+own\s+replicated\s+2\/2\s+busybox/);
    const ps = (await berth(['service', 'ps', '--format', '{{.Name}} {{.DesiredState}} {{.CurrentState}}', 'own'])).split('\n');
    assert.deepEqual(ps.map((l) => l.replace(/ \d+ seconds? ago| Less than a second ago| About a minute ago/, '')), ['own.1 Running Running', 'own.2 Running Running']);
    await berth(['service', 'update', '--env-add', 'WAVE=2', 'own']);
    assert.equal(await berth(['service', 'inspect', '--format', '{{.UpdateStatus.State}} {{json .Spec.TaskTemplate.ContainerSpec.Env}}', 'own']), 'completed ["WAVE=2"]');
    await berth(['service', 'rollback', 'own']);
    assert.equal(await berth(['service', 'inspect', '--format', '{{.UpdateStatus.State}}', 'own']), 'rollback_completed');
    assert.equal(await berth(['service', 'scale', 'own=1']), 'own scaled to 1');
    assert.equal(await berth(['node', 'update', '--label-add', 'zone=a', `${name}-node2`]), `${name}-node2`);
    assert.equal(await berth(['node', 'inspect', '--format', '{{.Spec.Labels.zone}}', `${name}-node2`]), 'a');
    assert.equal(await berth(['service', 'rm', 'own']), 'own');
    const bad = await exec(BERTH, ['service', 'create', '--mode', 'daemonset', 'busybox'], { env: { BERTH_HOST: env.DOCKER_HOST } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--mode/);
  });

  test('services run on the nodes; a node killed has its tasks moved, and starts again', async () => {
    await docker(['service', 'create', '--detach', '--name', 'web', '--replicas', '3', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => (await running()).length === 3, 60_000);
    assert.equal(new Set(await running()).size, 3, 'one a node');
    assert.equal((await lab(['kill', name, 'node3'])).code, 0);
    assert.match((await lab(['ls', name])).stdout, new RegExp(`${name}-node3 .* down`));
    assert.deepEqual(processesUnder(`${dir}/node3/`), [], 'nothing of the killed node runs');
    await eventually(async () => {
      const r = await running();
      return r.length === 3 && !r.includes(`${name}-node3`);
    }, 60_000);
    assert.equal((await lab(['start', name, 'node3'])).code, 0);
    await eventually(async () => (await docker(['node', 'ls', '--filter', `name=${name}-node3`, '--format', '{{.Status}}'])) === 'Ready', 60_000);
  });

  test('partition and heal cut a node off and bring it back', async () => {
    assert.equal((await lab(['partition', name, 'node2'])).code, 0);
    assert.match((await lab(['ls', name])).stdout, new RegExp(`${name}-node2 .* cut off`));
    await eventually(async () => (await docker(['node', 'ls', '--filter', `name=${name}-node2`, '--format', '{{.Status}}'])) === 'Down', 30_000);
    assert.equal((await lab(['heal', name, 'node2'])).code, 0);
    await eventually(async () => (await docker(['node', 'ls', '--filter', `name=${name}-node2`, '--format', '{{.Status}}'])) === 'Ready', 60_000);
  });

  test('bad input: a lab that exists, one that does not, an unknown node; nothing made', async () => {
    const again = await lab(['up', '--name', name, '--nodes', '1']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`a lab named ${name} exists`));
    const none = await lab(['ls', 'nosuchlab']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no lab named nosuchlab/);
    const node = await lab(['kill', name, 'node9']);
    assert.match(node.stderr, /has no node node9/);
    const bad = await lab(['up', '--name', 'Bad_Name', '--nodes', '1']);
    assert.match(bad.stderr, /invalid lab name/);
    assert.equal(fs.existsSync('/var/lib/berth-lab/Bad_Name'), false);
  });

  test('down removes everything: daemons, containers, mounts, cgroups, namespaces, links, its folder', async () => {
    assert.equal((await lab(['down', name])).code, 0);
    assert.equal(fs.existsSync(dir), false);
    assert.deepEqual(processesUnder(`${dir}/`), []);
    assert.deepEqual(mountsUnder(dir), []);
    for (let k = 1; k <= 3; k++) assert.deepEqual(cgroupDirs(`/berth-lab-${name}-node${k}`), []);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(netns, new RegExp(name));
    const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    const tag = createHash('sha256').update(name).digest('hex').slice(0, 6);
    assert.doesNotMatch(links, new RegExp(`: bl${tag}(n\\d+)?[@:]`));
  });
});
