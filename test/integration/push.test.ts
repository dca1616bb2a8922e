import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOCKER, exec, TestDaemon } from './harness';
import { Distribution, TestRegistry } from './registry-harness';

describe('push: from the engine to registries', () => {
  const d = new TestDaemon();
  const reg = new TestRegistry();
  const distDir = fs.mkdtempSync('/tmp/berth-dist-');
  const distribution = new Distribution(path.join(distDir, 'registry'));
  const env = { DOCKER_CONFIG: path.join(distDir, 'docker-config') };
  before(async () => {
    await d.start();
    await d.importBusybox();
    await reg.startForAlice();
    await d.ok(['login', '-u', 'alice', '-p', 'wonderland', reg.addr], { env } as never);
  });
  after(async () => {
    await distribution.stop();
    fs.rmSync(distDir, { recursive: true, force: true });
    await reg.cleanup();
    await d.cleanup();
  });

  const berth = (args: string[]) => d.berth(args, { env });
  const ok = async (args: string[]) => {
    const r = await berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };

  test('a built image is pushed gzipped; again, nothing is sent; to another repository, its layers are mounted', async () => {
    const ctx = path.join(d.dir, 'ctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n');
    await ok(['build', '-q', '-t', `${reg.addr}/alice/app:1`, ctx]);
    const first = await ok(['push', `${reg.addr}/alice/app:1`]);
    assert.match(first, new RegExp(`The push refers to repository \\[${reg.addr}/alice/app\\]`));
    assert.equal((first.match(/: Pushed/g) ?? []).length, 3, first);
    const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(first)![1];
    const raw = JSON.parse((await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', 'alice:wonderland', `docker://${reg.addr}/alice/app:1`])).stdout);
    assert.equal(raw.layers.length, 2);
    for (const l of raw.layers) assert.match(l.mediaType, /tar[.+]gzip$/);
    const again = await ok(['push', `${reg.addr}/alice/app:1`]);
    assert.equal((again.match(/Layer already exists/g) ?? []).length, 3, again);
    assert.match(again, new RegExp(`1: digest: ${digest}`));
    await ok(['tag', `${reg.addr}/alice/app:1`, `${reg.addr}/alice/copy:2`]);
    const copy = await ok(['push', `${reg.addr}/alice/copy:2`]);
    assert.equal((copy.match(/Mounted from alice\/app/g) ?? []).length, 3, copy);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{len .RepoDigests}}', `${reg.addr}/alice/app:1`]), '2');
    // Back from the registry, it runs.
    await ok(['rmi', `${reg.addr}/alice/app:1`, `${reg.addr}/alice/copy:2`]);
    await ok(['pull', `${reg.addr}/alice/copy:2`]);
    assert.equal(await ok(['run', '--rm', `${reg.addr}/alice/copy:2`]), 'built');
  });

  test('a build pulls a base image it lacks, with the credentials of config.json; --pull pulls even one it has', async () => {
    const base = `${reg.addr}/alice/copy:2`;
    await ok(['rmi', base]);
    const ctx = path.join(d.dir, 'ctx-pull');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${base}\nRUN cp /built.txt /again.txt\n`);
    const out = await ok(['build', '-t', 'frompulled', ctx]);
    assert.match(out, /Pulling from .*alice\/copy/);
    assert.match(out, /Status: Downloaded newer image/);
    assert.equal(await ok(['run', '--rm', 'frompulled', 'cat', '/again.txt']), 'built');
    assert.match(await ok(['build', '--pull', '-t', 'frompulled', ctx]), /Status: Image is up to date/);
    const noCreds = await d.berth(['build', '--pull', ctx], { env: { DOCKER_CONFIG: path.join(distDir, 'empty') } });
    assert.notEqual(noCreds.code, 0);
    assert.match(noCreds.stderr + noCreds.stdout, /Dockerfile:1: FROM .*pull access denied/);
    await ok(['rmi', 'frompulled', base]);
  });

  test('without credentials the registry refuses; unknown images and digest references are refused here', async () => {
    await d.ok(['tag', 'busybox', `${reg.addr}/alice/nocreds:1`]);
    const r = await d.berth(['push', `${reg.addr}/alice/nocreds:1`], { env: { DOCKER_CONFIG: path.join(distDir, 'empty') } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied|unauthorized|authentication required/);
    const missing = await berth(['push', `${reg.addr}/alice/none:1`]);
    assert.match(missing.stderr, /No such image/);
    const byDigest = await berth(['push', `${reg.addr}/alice/app@sha256:${'0'.repeat(64)}`]);
    assert.equal(byDigest.code, 1);
    assert.match(byDigest.stderr, /cannot push a digest reference/);
    await d.ok(['rmi', `${reg.addr}/alice/nocreds:1`]);
  });

  test('push -a pushes every tag of the repository here, naming the repository once; docker\'s push -a too', async () => {
    const repo = `${reg.addr}/alice/all`;
    for (const tag of ['1', '2', 'x']) await d.ok(['tag', 'busybox', `${repo}:${tag}`]);
    await d.ok(['tag', 'busybox', `${reg.addr}/alice/other:1`]);
    const out = await ok(['push', '-a', repo]);
    assert.equal((out.match(/The push refers to repository/g) ?? []).length, 1, out);
    for (const tag of ['1', '2', 'x']) assert.match(out, new RegExp(`^${tag}: digest: sha256:[a-f0-9]{64} size: \\d+$`, 'm'));
    const listed = await exec('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'alice:wonderland', `docker://${repo}`]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).Tags.sort(), ['1', '2', 'x'], 'alice/other stays here');
    const tagged = await berth(['push', '-a', `${repo}:1`]);
    assert.match(tagged.stderr, /tag can't be used with --all-tags\/-a/);
    const none = await berth(['push', '-a', `${reg.addr}/alice/none`]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /An image does not exist locally with the tag: .*alice\/none/);
    await d.ok(['tag', 'busybox', `${repo}:y`]);
    const docker = await exec(DOCKER, ['-H', d.host, 'push', '-a', repo], { env });
    assert.equal(docker.code, 0, docker.stderr);
    assert.match(docker.stdout, /^y: digest: sha256:/m);
    await d.ok(['rmi', `${repo}:1`, `${repo}:2`, `${repo}:x`, `${repo}:y`, `${reg.addr}/alice/other:1`]);
  });

  test('the docker CLI pushes through Berth, with the credentials of its own login', async () => {
    await d.ok(['tag', 'busybox', `${reg.addr}/alice/docker:1`]);
    const login = await exec(DOCKER, ['-H', d.host, 'login', '-u', 'alice', '--password-stdin', reg.addr], { env: { DOCKER_CONFIG: path.join(distDir, 'dc2') }, input: 'wonderland\n' });
    assert.equal(login.code, 0, login.stderr);
    const r = await exec(DOCKER, ['-H', d.host, 'push', `${reg.addr}/alice/docker:1`], { env: { DOCKER_CONFIG: path.join(distDir, 'dc2') } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1: digest: sha256:[a-f0-9]{64} size: \d+/);
    await d.ok(['rmi', `${reg.addr}/alice/docker:1`]);
  });

  test('Berth pushes to Debian\'s docker-registry (distribution 2.8) and pulls back', { skip: spawnSync('sh', ['-c', 'command -v docker-registry']).status !== 0 && 'docker-registry is not installed' }, async () => {
    await distribution.start();
    const port = distribution.port;
    await d.ok(['tag', 'busybox', `127.0.0.1:${port}/dist/bb:1`]);
    assert.match(await d.ok(['push', `127.0.0.1:${port}/dist/bb:1`]), /1: digest: sha256/);
    const inspect = await exec('skopeo', ['inspect', '--tls-verify=false', `docker://127.0.0.1:${port}/dist/bb:1`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    await d.ok(['rmi', `127.0.0.1:${port}/dist/bb:1`]);
    await d.ok(['pull', `127.0.0.1:${port}/dist/bb:1`]);
    assert.equal(await d.ok(['run', '--rm', `127.0.0.1:${port}/dist/bb:1`, 'echo', 'round trip']), 'round trip');
  });

  test("search finds a registry's repositories by name (its catalog, signed in), from berth and from the docker CLI", async () => {
    await ok(['tag', 'busybox', `${reg.addr}/alice/searchable-one:1`]);
    await ok(['tag', 'busybox', `${reg.addr}/alice/searchable-two:1`]);
    await ok(['push', '-q', `${reg.addr}/alice/searchable-one:1`]);
    await ok(['push', '-q', `${reg.addr}/alice/searchable-two:1`]);
    const table = await ok(['search', `${reg.addr}/SEARCHABLE`]);
    assert.deepEqual(table.split('\n').map((l) => l.split(/\s+/)[0]), ['NAME', `${reg.addr}/alice/searchable-one`, `${reg.addr}/alice/searchable-two`]);
    assert.equal(await ok(['search', '--limit', '1', '--format', '{{.Name}} {{.StarCount}}', `${reg.addr}/searchable`]), `${reg.addr}/alice/searchable-one 0`);
    assert.equal(await ok(['search', '-f', 'stars=1', '--format', '{{.Name}}', `${reg.addr}/searchable`]), '', 'a catalog entry has no stars');
    const viaDocker = await exec(DOCKER, ['-H', d.host, 'search', '--format', '{{.Name}}', `${reg.addr}/searchable-two`], { env: { ...env, DOCKER_CLI_HINTS: 'false' } });
    assert.equal(viaDocker.code, 0, viaDocker.stderr);
    assert.equal(viaDocker.stdout.trim(), `${reg.addr}/alice/searchable-two`);
    // The pulled name is the one shown.
    await ok(['rmi', `${reg.addr}/alice/searchable-two:1`]);
    await ok(['pull', '-q', `${viaDocker.stdout.trim()}:1`]);
    const cases: [string[], RegExp][] = [
      [['search', '--limit', '101', `${reg.addr}/x`], /Limit 101 is outside the range of \[1, 100\]/],
      [['search', '-f', 'colour=red', `${reg.addr}/x`], /invalid filter 'colour'/],
    ];
    for (const [args, re] of cases) {
      const r = await berth(args);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
    }
    const anonymous = await d.berth(['search', `${reg.addr}/searchable`], { env: { DOCKER_CONFIG: path.join(distDir, 'nobody') } });
    assert.notEqual(anonymous.code, 0, 'the catalog is for signed-in users of this registry');
    assert.match(anonymous.stderr, /authentication required|unauthorized/);
    await ok(['rmi', `${reg.addr}/alice/searchable-one:1`, `${reg.addr}/alice/searchable-two:1`]);
  });

  test('nothing leaks', () => d.assertClean());
});
