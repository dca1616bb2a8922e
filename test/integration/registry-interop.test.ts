import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { busyboxTar, DOCKER, exec, mountsUnder, PrivateDockerd } from './harness';
import { TestRegistry } from './registry-harness';

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

async function ok(bin: string, args: string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  const r = await exec(bin, args, { timeoutMs: o.timeoutMs ?? 120_000, env: o.env, input: o.input });
  assert.equal(r.code, 0, `${bin} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The manifest digest an OCI layout's index gives a tag. */
function layoutDigest(layout: string, tag: string): string {
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  return index.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag).digest;
}

describe('registry interoperability: skopeo, umoci, podman, docker', () => {
  const reg = new TestRegistry();
  before(() => reg.start());
  after(() => reg.cleanup());

  test('skopeo copies an OCI layout made by umoci into the registry and back with identical digests', async () => {
    const src = path.join(reg.dir, 'src');
    const bundle = path.join(reg.dir, 'bundle');
    await ok('umoci', ['init', '--layout', src]);
    await ok('umoci', ['new', '--image', `${src}:bb`]);
    await ok('umoci', ['unpack', '--image', `${src}:bb`, bundle]);
    await ok('tar', ['-xf', busyboxTar(), '-C', path.join(bundle, 'rootfs')]);
    await ok('umoci', ['repack', '--image', `${src}:bb`, bundle]);
    await ok('umoci', ['config', '--image', `${src}:bb`, '--config.cmd', 'sh', '--tag', 'bb']);
    fs.rmSync(bundle, { recursive: true });
    const want = layoutDigest(src, 'bb');
    await ok('skopeo', ['copy', '--dest-tls-verify=false', `oci:${src}:bb`, `docker://${reg.addr}/interop/busybox:1`]);
    const inspect = JSON.parse(await ok('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.addr}/interop/busybox:1`]));
    assert.equal(inspect.Digest, want);
    const back = path.join(reg.dir, 'back');
    await ok('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.addr}/interop/busybox:1`, `oci:${back}:bb`]);
    assert.equal(layoutDigest(back, 'bb'), want);
    // Every blob came back byte for byte.
    const blobs = (l: string) => fs.readdirSync(path.join(l, 'blobs', 'sha256')).sort();
    for (const b of blobs(back)) assert.ok(fs.readFileSync(path.join(back, 'blobs', 'sha256', b)).equals(fs.readFileSync(path.join(src, 'blobs', 'sha256', b))), b);
    // umoci unpacks what came back.
    await ok('umoci', ['unpack', '--image', `${back}:bb`, bundle]);
    assert.ok(fs.existsSync(path.join(bundle, 'rootfs', 'bin', 'busybox')));
    fs.rmSync(bundle, { recursive: true });
    // A copy between two repositories of the registry.
    await ok('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.addr}/interop/busybox:1`, `docker://${reg.addr}/interop/copy:1`]);
    assert.equal(JSON.parse(await ok('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.addr}/interop/copy:1`])).Digest, want);
  });

  test('podman pushes to and pulls from it', { skip: !has('podman') && 'podman is not installed' }, async () => {
    const store = path.join(reg.dir, 'podman');
    const podman = (args: string[]) => ok('podman', ['--root', `${store}/root`, '--runroot', `${store}/run`, '--storage-driver', 'vfs', ...args]);
    try {
      await podman(['import', '--change', 'CMD ["sh"]', busyboxTar(), 'localhost/pm:1']);
      await podman(['push', '--tls-verify=false', 'localhost/pm:1', `${reg.addr}/interop/podman:1`]);
      const tags = (await reg.request('GET', '/v2/interop/podman/tags/list')).json().tags;
      assert.deepEqual(tags, ['1']);
      await podman(['rmi', '-a', '-f']);
      await podman(['pull', '--tls-verify=false', `${reg.addr}/interop/podman:1`]);
      const digest = await podman(['image', 'inspect', '--format', '{{.Digest}}', `${reg.addr}/interop/podman:1`]);
      const head = await reg.request('HEAD', '/v2/interop/podman/manifests/1');
      assert.equal(digest, head.headers['docker-content-digest']);
    } finally {
      spawnSync('podman', ['--root', `${store}/root`, '--runroot', `${store}/run`, '--storage-driver', 'vfs', 'rmi', '-a', '-f']);
      for (const m of mountsUnder(store).reverse()) spawnSync('umount', ['-l', m]);
    }
  });

  describe('docker (docker.io) pushes to and pulls from it', { skip: !has('dockerd') && 'dockerd is not installed' }, () => {
    const dockerd = new PrivateDockerd();
    const env = { DOCKER_CONFIG: `${dockerd.dir}/config` };
    const docker = (args: string[], input?: string) => ok(DOCKER, ['-H', dockerd.host, ...args], { env, input });
    before(() => dockerd.start());
    after(() => dockerd.cleanup());

    test('push, remove, pull, run', async () => {
      const ref = `${reg.addr}/interop/docker:1`;
      await docker(['import', '-c', 'CMD ["sh"]', busyboxTar(), ref]);
      const pushed = await docker(['push', ref]);
      const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)![1];
      assert.equal((await reg.request('HEAD', '/v2/interop/docker/manifests/1')).headers['docker-content-digest'], digest);
      // A second push finds every layer there already.
      assert.match(await docker(['push', ref]), /Layer already exists/);
      await docker(['rmi', ref]);
      await docker(['pull', ref]);
      assert.equal(await docker(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled from berth']), 'pulled from berth');
      assert.equal(await docker(['image', 'inspect', '-f', '{{index .RepoDigests 0}}', ref]), `${reg.addr}/interop/docker@${digest}`);
      await docker(['rmi', ref]);
    });

    test('docker login through the token flow, then push; logout forgets', async () => {
      const secured = new TestRegistry();
      await secured.startForAlice();
      try {
        const ref = `${secured.addr}/alice/app:1`;
        await docker(['import', busyboxTar(), ref]);
        const denied = await exec(DOCKER, ['-H', dockerd.host, 'push', ref], { env });
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr + denied.stdout, /requested access to the resource is denied|unauthorized/);
        const bad = await exec(DOCKER, ['-H', dockerd.host, 'login', '-u', 'alice', '--password-stdin', secured.addr], { env, input: 'wrong\n' });
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /unauthorized/);
        assert.match(await docker(['login', '-u', 'alice', '--password-stdin', secured.addr], 'wonderland\n'), /Login Succeeded/);
        await docker(['push', ref]);
        assert.deepEqual((await secured.request('GET', '/v2/alice/app/tags/list', { headers: { Authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') } })).json().tags, ['1']);
        await docker(['logout', secured.addr]);
        await docker(['rmi', ref]);
      } finally {
        await secured.cleanup();
      }
    });
  });
});
