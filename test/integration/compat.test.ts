import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, busyboxTar, DOCKER, exec, PrivateDockerd, suiteDaemon } from './harness';

const SCRIPTS = path.resolve(__dirname, '../../../test/integration/sdk');
const hasSdk = spawnSync('python3', ['-c', 'import docker']).status === 0;
const hasDockerd = spawnSync('sh', ['-c', 'command -v dockerd']).status === 0;

/** Key paths of a JSON value (`/HostConfig/Memory`), for comparing shapes. */
function keyPaths(o: unknown, at = ''): string[] {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return [];
  return Object.entries(o).flatMap(([k, v]) => [`${at}/${k}`, ...keyPaths(v, `${at}/${k}`)]);
}

/**
 * What Docker's clients rely on, asked of dockerd 20.10 and of Berth on the
 * same machine with the same image: the answers must be the same.
 */
describe('side by side with dockerd: what clients rely on', { skip: !hasDockerd && 'dockerd is not installed' }, () => {
  const d = suiteDaemon();
  const dockerd = new PrivateDockerd();
  before(async () => {
    await dockerd.start();
    assert.equal((await exec(DOCKER, ['-H', dockerd.host, 'import', busyboxTar(), 'busybox:latest'])).code, 0);
  });
  after(() => dockerd.cleanup());

  const run = async (script: string, host: string) => {
    const r = await exec('python3', [path.join(SCRIPTS, script), host, `sdk-${process.pid}`], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${script} against ${host}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  test('the Docker SDK for Python: run and return the output, detach, exec, kill, logs, wait, remove, a driver that keeps no log', { skip: !hasSdk && 'python3-docker is not installed' }, async () => {
    const [docker, berth] = [await run('everyday.py', dockerd.host), await run('everyday.py', d.host)];
    assert.equal(docker.run_output, 'hello\n', 'the script means what it says against dockerd');
    assert.deepEqual(berth, docker);
  });

  test("inspect has docker's whole shape, whatever the client sent; a memory limit's swap is twice the memory", async () => {
    const shapes = [];
    for (const host of [dockerd.host, d.host]) {
      const bare = await api({ socket: host.slice('unix://'.length) }, 'POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'] });
      const id = JSON.parse(bare.body).Id as string;
      const full = JSON.parse((await api({ socket: host.slice('unix://'.length) }, 'GET', `/v1.41/containers/${id}/json`)).body);
      const viaCli = (await exec(DOCKER, ['-H', host, 'create', '-m', '32m', 'busybox', 'true'])).stdout.trim();
      const limits = (await exec(DOCKER, ['-H', host, 'inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}}', viaCli])).stdout.trim();
      shapes.push({ keys: keyPaths(full), limits });
      await exec(DOCKER, ['-H', host, 'rm', id, viaCli]);
    }
    const [docker, berth] = shapes;
    const missing = docker.keys.filter((k) => !berth.keys.includes(k));
    assert.deepEqual(missing, [], 'keys dockerd answers with that Berth lacks');
    assert.equal(berth.limits, docker.limits);
    assert.equal(berth.limits, `${32 << 20} ${64 << 20} 0 ${64 << 20} private`);
  });

  test('nothing leaks', () => d.assertClean());
});
