import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, DOCKER, exec, PrivateDockerd, suiteDaemon } from './harness';

const SCRIPTS = path.resolve(__dirname, '../../../test/integration/sdk');
const hasSdk = spawnSync('python3', ['-c', 'import docker']).status === 0;
const hasDockerd = spawnSync('sh', ['-c', 'command -v dockerd']).status === 0;

/**
 * The Docker SDK for Python (Debian's python3-docker) doing what scripts do
 * every day, the same script against dockerd 20.10 and against Berth: the
 * two answers must be the same.
 */
describe('the Docker SDK for Python, side by side with dockerd', { skip: (!hasSdk && 'python3-docker is not installed') || (!hasDockerd && 'dockerd is not installed') }, () => {
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

  test('run and return the output, detach, exec, kill, logs, wait, remove, a driver that keeps no log', async () => {
    const [docker, berth] = [await run('everyday.py', dockerd.host), await run('everyday.py', d.host)];
    assert.equal(docker.run_output, 'hello\n', 'the script means what it says against dockerd');
    assert.deepEqual(berth, docker);
  });

  test('nothing leaks', () => d.assertClean());
});
