import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { api, DOCKER, exec, HAS_DOCKERD, suiteDaemon, suiteDockerd } from './harness';

const SCRIPTS = path.resolve(__dirname, '../../../test/integration/sdk');
const hasSdk = spawnSync('python3', ['-c', 'import docker']).status === 0;

/** Key paths of a JSON value (`/HostConfig/Memory`), for comparing shapes. */
function keyPaths(o: unknown, at = ''): string[] {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return [];
  return Object.entries(o).flatMap(([k, v]) => [`${at}/${k}`, ...keyPaths(v, `${at}/${k}`)]);
}

/**
 * What Docker's clients rely on, asked of dockerd 20.10 and of Berth on the
 * same machine with the same image: the answers must be the same.
 */
describe('side by side with dockerd: what clients rely on', { skip: !HAS_DOCKERD && 'dockerd is not installed' }, () => {
  const d = suiteDaemon();
  const dockerd = suiteDockerd();

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

  test("builds: the SDK finds the image by docker's exact last line; a failed RUN carries its exit code", { skip: !hasSdk && 'python3-docker is not installed' }, async () => {
    const [docker, berth] = [await run('build.py', dockerd.host), await run('build.py', d.host)];
    // Berth's failure names the Dockerfile's line before docker's words.
    assert.match(String(berth.failed_build), /^Dockerfile:2: RUN exit 3: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3$/);
    assert.deepEqual({ ...berth, failed_build: docker.failed_build }, docker);
    // The docker CLI exits with errorDetail.code: the failed command's own.
    const dir = fs.mkdtempSync(path.join(d.dir, 'failing-'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN exit 7\n');
    const codes = [];
    for (const host of [dockerd.host, d.host]) codes.push((await exec(DOCKER, ['-H', host, 'build', '-q', dir], { env: { DOCKER_BUILDKIT: '0' } })).code);
    assert.deepEqual(codes, [7, 7]);
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
    const images: string[][] = [];
    for (const host of [dockerd.host, d.host]) images.push(keyPaths(JSON.parse((await api({ socket: host.slice('unix://'.length) }, 'GET', '/v1.41/images/busybox/json')).body)));
    assert.deepEqual(images[0].filter((k) => !images[1].includes(k)), [], 'image keys dockerd answers with that Berth lacks');
    assert.equal(berth.limits, docker.limits);
    assert.equal(berth.limits, `${32 << 20} ${64 << 20} 0 ${64 << 20} private`);
  });

  test('networks: names with spaces, duplicates only without CheckDuplicate, IPAM options, endpoint settings kept, disconnect of what is not connected', async () => {
    const answers = [];
    for (const host of [dockerd.host, d.host]) {
      const sock = { socket: host.slice('unix://'.length) };
      const call = async (method: string, url: string, body?: unknown) => {
        const r = await api(sock, method, `/v1.41${url}`, body);
        return { status: r.status, body: r.body ? JSON.parse(r.body) : null };
      };
      const ids: string[] = [];
      const made = async (body: object) => {
        const r = await call('POST', '/networks/create', body);
        if (r.status === 201) ids.push(r.body.Id);
        return r;
      };
      const a: Record<string, unknown> = {};
      a.spaces = (await made({ Name: 'my net', CheckDuplicate: true })).status;
      a.duplicate = await made({ Name: 'my net', CheckDuplicate: true });
      const second = await made({ Name: 'my net', CheckDuplicate: false });
      a.second = [second.status, String(second.body.Warning).replace(ids[0], '<first id>')];
      // dockerd words it two ways depending on the route; the status and the word are what clients see.
      const ambiguous = await call('GET', '/networks/my%20net');
      a.ambiguous = [ambiguous.status, /my net is ambiguous/.test(ambiguous.body.message)];
      a.predefined = await made({ Name: 'bridge' });
      await made({ Name: 'opts', IPAM: { Options: { foo: 'bar' } } });
      a.ipamOptions = [(await call('GET', '/networks/opts')).body.IPAM.Options, (await call('GET', `/networks/${ids[0]}`)).body.IPAM.Options];
      const c = await call('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'opts' }, NetworkingConfig: { EndpointsConfig: { opts: { Links: ['other:alias'], DriverOpts: { k: 'v' }, IPAMConfig: { LinkLocalIPs: ['169.254.9.9'] } } } } });
      const ep = (await call('GET', `/containers/${c.body.Id}/json`)).body.NetworkSettings.Networks.opts;
      a.endpoint = [ep.Links, ep.DriverOpts, ep.IPAMConfig];
      const off = await call('POST', `/networks/${ids[0]}/disconnect`, { Container: c.body.Id, Force: true });
      a.disconnect = String(off.body.message).replace(c.body.Id, '<id>').replace(ids[0], '<net>');
      await call('DELETE', `/containers/${c.body.Id}`);
      for (const id of ids) await call('DELETE', `/networks/${id}`);
      answers.push(a);
    }
    const [docker, berth] = answers;
    assert.deepEqual(berth, docker);
  });

  test("volume prune at API 1.41 removes every unused volume, as dockerd 20.10's; at 1.42 only anonymous ones unless all=true", async () => {
    const results = [];
    for (const host of [dockerd.host, d.host]) {
      const docker = (args: string[]) => exec(DOCKER, ['-H', host, ...args]);
      await docker(['volume', 'create', 'keepme']);
      const holder = (await docker(['create', '-v', 'held:/x', 'busybox', 'true'])).stdout.trim();
      const pruned = await docker(['volume', 'prune', '-f']);
      const left = (await docker(['volume', 'ls', '-q'])).stdout.trim();
      await docker(['rm', '-v', holder]);
      await docker(['volume', 'rm', 'held']);
      results.push({ code: pruned.code, named: /keepme/.test(pruned.stdout), left });
    }
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[0], { code: 0, named: true, left: 'held' });
    // Berth at 1.42: anonymous only, unless all=true.
    await d.ok(['volume', 'create', 'named142']);
    const r142 = JSON.parse((await api(d, 'POST', '/v1.42/volumes/prune')).body);
    assert.deepEqual(r142.VolumesDeleted ?? [], []);
    const all = JSON.parse((await api(d, 'POST', `/v1.42/volumes/prune?filters=${encodeURIComponent('{"all":["true"]}')}`)).body);
    assert.deepEqual(all.VolumesDeleted, ['named142']);
  });

  test('nothing leaks', () => d.assertClean());
});
