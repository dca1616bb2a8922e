import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import * as tar from 'tar-stream';
import { api, busyboxTar, DOCKER, exec, sleep, TestDaemon } from './harness';
import { digestOf, Distribution, pushBlob, TestRegistry } from './registry-harness';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A tar of these entries (a body makes a file; null a folder). */
async function tarOf(entries: [string, string | Buffer | null][]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  for (const [name, body] of entries) {
    if (body === null) pack.entry({ name, type: 'directory', mode: 0o755 });
    else pack.entry({ name, mode: 0o644 }, body);
  }
  pack.finalize();
  await new Promise<void>((r) => pack.on('end', () => r()));
  return Buffer.concat(chunks);
}

/** Pushes an image of these layer tars (gzip) to the registry; returns the manifest's digest. */
async function pushLayers(reg: TestRegistry, name: string, tag: string, tars: Buffer[], platform = { architecture: 'amd64', os: 'linux' }, cmd = ['sh']): Promise<{ digest: string; size: number }> {
  const layers = [];
  for (const t of tars) {
    const gz = gzipSync(t, { level: 1 });
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await pushBlob(reg, name, gz), size: gz.length });
  }
  const config = Buffer.from(JSON.stringify({ ...platform, config: { Cmd: cmd }, rootfs: { type: 'layers', diff_ids: tars.map((t) => digestOf(t)) } }));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(reg, name, config), size: config.length }, layers }));
  const r = await reg.request('PUT', `/v2/${name}/manifests/${tag}`, { headers: { 'Content-Type': OCI_MANIFEST }, body: manifest });
  assert.equal(r.status, 201, r.body.toString());
  return { digest: digestOf(manifest), size: manifest.length };
}

/**
 * An HTTP proxy in front of the registry that logs requests and, while
 * `cut` says so, sends only part of a blob's body and then stops: breaking
 * the connection, or holding it open (a stalled download).
 */
class FlakyProxy {
  readonly requests: string[] = [];
  cut?: { bytes: number; mode: 'break' | 'stall'; times: number };
  private server?: http.Server;
  port = 0;
  constructor(private readonly upstream: TestRegistry) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url} ${req.headers.range ?? ''}`.trim());
      const up = http.request({ host: '127.0.0.1', port: this.upstream.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        const cut = this.cut;
        if (!cut || cut.times <= 0 || req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url!) || Number(ur.headers['content-length']) < cut.bytes * 2) return void ur.pipe(res);
        cut.times--;
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          if (sent >= cut.bytes) return;
          const part = c.subarray(0, cut.bytes - sent);
          sent += part.length;
          res.write(part);
          if (sent >= cut.bytes) {
            ur.destroy();
            if (cut.mode === 'break') setTimeout(() => res.socket?.destroy(), 50);
          }
        });
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('pull: from registries into the engine', () => {
  const d = new TestDaemon();
  const reg = new TestRegistry();
  before(async () => {
    await d.start();
    await reg.start();
  });
  after(async () => {
    await reg.cleanup();
    await d.cleanup();
  });

  test('a pulled image runs; a second pull is up to date; by digest too; digests show as docker shows them', async () => {
    const { digest } = await pushLayers(reg, 'lib/busybox', '1', [fs.readFileSync(busyboxTar())]);
    const ref = `${reg.addr}/lib/busybox:1`;
    const out = await d.ok(['pull', ref]);
    assert.match(out, /1: Pulling from 127\.0\.0\.1:\d+\/lib\/busybox/);
    assert.match(out, /: Pull complete/);
    assert.match(out, new RegExp(`Digest: ${digest}`));
    assert.match(out, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/lib\/busybox:1\n127\.0\.0\.1:\d+\/lib\/busybox:1$/);
    assert.equal(await d.ok(['run', '--rm', ref, 'echo', 'pulled']), 'pulled');
    assert.match(await d.ok(['pull', ref]), /Status: Image is up to date/);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref]), JSON.stringify([`${reg.addr}/lib/busybox@${digest}`]));
    assert.match(await d.ok(['images', '--digests', `${reg.addr}/lib/busybox`]), new RegExp(`${reg.addr}/lib/busybox\\s+1\\s+${digest}`));
    assert.equal(await d.ok(['pull', '-q', `${reg.addr}/lib/busybox@${digest}`]), `${reg.addr}/lib/busybox@${digest}`);
    assert.equal(await d.ok(['run', '--rm', `${reg.addr}/lib/busybox@${digest}`, 'echo', 'by digest']), 'by digest');
  });

  test('layers unpacked in parallel stack in order: later layers delete and replace what earlier ones made', async () => {
    const layers = [
      fs.readFileSync(busyboxTar()),
      await tarOf([['data/', null], ['data/a.txt', 'a'], ['data/b.txt', 'old b'], ['data/sub/', null], ['data/sub/x', 'x']]),
      await tarOf([['data/', null], ['data/.wh.a.txt', ''], ['data/c.txt', 'c']]),
      await tarOf([['data/', null], ['data/b.txt', 'new b'], ['data/sub/', null], ['data/sub/.wh..wh..opq', ''], ['data/sub/y', 'y']]),
    ];
    await pushLayers(reg, 'lib/stack', '1', layers);
    const out = await d.ok(['pull', `${reg.addr}/lib/stack:1`]);
    assert.match(out, /Already exists/, 'the busybox layer is there from the last test');
    assert.equal(await d.ok(['run', '--rm', `${reg.addr}/lib/stack:1`, 'sh', '-c', 'ls /data /data/sub; cat /data/b.txt']), '/data:\nb.txt\nc.txt\nsub\n\n/data/sub:\ny\nnew b');
  });

  test('an index: the host platform is chosen, --platform picks another, a platform it lacks is refused', async () => {
    const amd = await pushLayers(reg, 'lib/multi', 'amd', [await tarOf([['which', 'amd64']])], { architecture: 'amd64', os: 'linux' });
    const arm = await pushLayers(reg, 'lib/multi', 'arm', [await tarOf([['which', 'arm64']])], { architecture: 'arm64', os: 'linux' });
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [
      { mediaType: OCI_MANIFEST, ...arm, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: OCI_MANIFEST, ...amd, platform: { os: 'linux', architecture: 'amd64' } },
    ] });
    assert.equal((await reg.request('PUT', '/v2/lib/multi/manifests/1', { headers: { 'Content-Type': OCI_INDEX }, body: index })).status, 201);
    await d.ok(['pull', `${reg.addr}/lib/multi:1`]);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Architecture}} {{json .RepoDigests}}', `${reg.addr}/lib/multi:1`]), `amd64 ${JSON.stringify([`${reg.addr}/lib/multi@${digestOf(index)}`])}`);
    await d.ok(['pull', '--platform', 'linux/arm64', `${reg.addr}/lib/multi:1`]);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Architecture}}', `${reg.addr}/lib/multi:1`]), 'arm64');
    const none = await d.berth(['pull', '--platform', 'linux/s390x', `${reg.addr}/lib/multi:1`]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
    const single = await d.berth(['pull', '--platform', 'linux/arm64', `${reg.addr}/lib/multi:amd`]);
    assert.match(single.stderr, /is for linux\/amd64, not the platform asked for/);
  });

  test('GET /distribution/{name}/json: the descriptor and the platforms a registry serves, without pulling', async () => {
    const amd = await pushLayers(reg, 'lib/dist', 'amd', [await tarOf([['which', 'amd64']])], { architecture: 'amd64', os: 'linux' });
    const arm = await pushLayers(reg, 'lib/dist', 'arm', [await tarOf([['which', 'arm64']])], { architecture: 'arm64', os: 'linux' });
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [
      { mediaType: OCI_MANIFEST, ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: OCI_MANIFEST, ...amd, platform: { os: 'linux', architecture: 'amd64' } },
    ] });
    assert.equal((await reg.request('PUT', '/v2/lib/dist/manifests/multi', { headers: { 'Content-Type': OCI_INDEX }, body: index })).status, 201);
    const ask = async (name: string) => {
      const r = await api(d, 'GET', `/v1.41/distribution/${reg.addr}/${name}/json`);
      return { status: r.status, body: JSON.parse(r.body) };
    };
    assert.deepEqual(await ask('lib/dist:multi'), { status: 200, body: {
      Descriptor: { mediaType: OCI_INDEX, digest: digestOf(index), size: index.length },
      Platforms: [{ architecture: 'arm64', os: 'linux', variant: 'v8' }, { architecture: 'amd64', os: 'linux' }],
    } });
    assert.deepEqual(await ask('lib/dist:amd'), { status: 200, body: { Descriptor: { mediaType: OCI_MANIFEST, ...amd }, Platforms: [{ architecture: 'amd64', os: 'linux' }] } });
    assert.equal((await ask('lib/dist:nosuch')).status, 404);
    assert.equal(await d.ok(['images', '-q', `${reg.addr}/lib/dist`]), '', 'nothing was pulled');
  });

  test('unknown names and tags, and bad references, fail with the registry\'s word and nothing made', async () => {
    const images = await d.ok(['images', '-aq']);
    const noRepo = await d.berth(['pull', `${reg.addr}/nobody/here:1`]);
    assert.equal(noRepo.code, 1);
    assert.match(noRepo.stderr, /Error response from daemon: manifest unknown: .*repository name not known to registry/);
    const noTag = await d.berth(['pull', `${reg.addr}/lib/busybox:nope`]);
    assert.match(noTag.stderr, /manifest unknown/);
    const bad = await d.berth(['pull', `${reg.addr}/Bad/Name`]);
    assert.match(bad.stderr, /invalid reference format/);
    const down = await d.berth(['pull', '127.0.0.1:1/x:1']);
    assert.match(down.stderr, /registry 127\.0\.0\.1:1 cannot be reached/);
    assert.equal(await d.ok(['images', '-aq']), images);
  });

  test('a broken download resumes with a Range request and replays its bytes into the unpacking', async () => {
    const big = randomBytes(6 << 20);
    await pushLayers(reg, 'lib/resume', '1', [fs.readFileSync(busyboxTar()), await tarOf([['big.bin', big]])]);
    const proxy = new FlakyProxy(reg);
    await proxy.start();
    try {
      proxy.cut = { bytes: 2 << 20, mode: 'break', times: 1 };
      const r = await d.berth(['pull', `127.0.0.1:${proxy.port}/lib/resume:1`], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${proxy.requests.join('\n')}\n${d.log.slice(-3000)}`);
      const out = r.stdout;
      assert.match(out, /Retrying in 1 second/);
      assert.ok(proxy.requests.some((r) => /GET \/v2\/lib\/resume\/blobs\/sha256:\w+ bytes=\d+-$/.test(r)), proxy.requests.join('\n'));
      assert.equal(await d.ok(['run', '--rm', `127.0.0.1:${proxy.port}/lib/resume:1`, 'sh', '-c', 'wc -c < /big.bin']), String(6 << 20));
    } finally {
      await proxy.stop();
    }
  });

  test('a pull cut by a daemon crash goes on from where it stopped after the restart', async () => {
    const big = randomBytes(6 << 20);
    await pushLayers(reg, 'lib/crash', '1', [fs.readFileSync(busyboxTar()), await tarOf([['big.bin', big]])]);
    const proxy = new FlakyProxy(reg);
    await proxy.start();
    try {
      proxy.cut = { bytes: 3 << 20, mode: 'stall', times: 1 };
      const pulling = d.berth(['pull', `127.0.0.1:${proxy.port}/lib/crash:1`]);
      // Wait until the stalled download holds its bytes, then crash the daemon.
      const ingest = path.join(d.dataRoot, 'content', 'ingest');
      for (let i = 0; i < 200; i++) {
        const sizes = fs.existsSync(ingest) ? fs.readdirSync(ingest).map((n) => fs.statSync(path.join(ingest, n, 'data'), { throwIfNoEntry: false })?.size ?? 0) : [];
        if (sizes.some((s) => s >= 3 << 20)) break;
        await sleep(50);
      }
      await d.kill();
      await pulling;
      await d.start();
      proxy.requests.length = 0;
      await d.ok(['pull', `127.0.0.1:${proxy.port}/lib/crash:1`]);
      const resumed = proxy.requests.find((r) => / bytes=\d+-$/.test(r));
      assert.ok(resumed && Number(/bytes=(\d+)-/.exec(resumed)![1]) >= 3 << 20, proxy.requests.join('\n'));
      assert.equal(await d.ok(['run', '--rm', `127.0.0.1:${proxy.port}/lib/crash:1`, 'sh', '-c', 'wc -c < /big.bin']), String(6 << 20));
    } finally {
      await proxy.stop();
    }
  });

  test('prefetch brings an image in ahead of a deploy and says what it moved', async () => {
    await pushLayers(reg, 'lib/prefetch', '1', [fs.readFileSync(busyboxTar()), await tarOf([['app', randomBytes(1 << 20)]])]);
    const ref = `${reg.addr}/lib/prefetch:1`;
    assert.match(await d.ok(['image', 'prefetch', ref]), new RegExp(`^${ref} [a-f0-9]{12}: 1 layers fetched \\(1\\.\\d MB\\), 1 present, in \\d+\\.\\d+ s$`));
    assert.match(await d.ok(['image', 'prefetch', ref]), /: 0 layers fetched \(0\.0 MB\), 2 present/);
    assert.equal(await d.ok(['run', '--rm', ref, 'sh', '-c', 'wc -c < /app']), String(1 << 20));
  });

  test('docker CLI pulls through Berth', async () => {
    const r = await d.docker(['pull', `${reg.addr}/lib/busybox:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Status: Image is up to date|Downloaded newer image/);
    assert.equal((await d.docker(['run', '--rm', `${reg.addr}/lib/busybox:1`, 'echo', 'docker pulled'])).stdout.trim(), 'docker pulled');
  });

  test('pull -a brings every tag the registry lists, with one closing status; a tag with -a is refused; docker\'s pull -a too', async () => {
    const bb = fs.readFileSync(busyboxTar());
    for (const tag of ['1', '2']) await pushLayers(reg, 'lib/alltags', tag, [bb]);
    await pushLayers(reg, 'lib/alltags', '3', [bb, await tarOf([['three', 'three']])]);
    const repo = `${reg.addr}/lib/alltags`;
    const out = await d.ok(['pull', '-a', repo]);
    for (const tag of ['1', '2', '3']) assert.match(out, new RegExp(`^${tag}: Pulling from ${repo}$`, 'm'));
    assert.equal((out.match(/^Digest: sha256:/gm) ?? []).length, 3, out);
    assert.equal((out.match(/Status: /g) ?? []).length, 1, out);
    assert.match(out, new RegExp(`Status: Downloaded newer image for ${repo}\n${repo}$`));
    assert.deepEqual((await d.ok(['images', '--format', '{{.Tag}}', repo])).split('\n').sort(), ['1', '2', '3']);
    assert.equal(await d.ok(['run', '--rm', `${repo}:3`, 'cat', '/three']), 'three');
    const tagged = await d.berth(['pull', '-a', `${repo}:1`]);
    assert.notEqual(tagged.code, 0);
    assert.match(tagged.stderr, /tag can't be used with --all-tags\/-a/);
    const none = await d.berth(['pull', '-a', `${reg.addr}/lib/nothing`]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /lib\/nothing/);
    const docker = await d.docker(['pull', '-a', repo]);
    assert.equal(docker.code, 0, docker.stderr);
    assert.match(docker.stdout, new RegExp(`Status: Image is up to date for ${repo}`));
    await d.ok(['rmi', `${repo}:1`, `${repo}:2`, `${repo}:3`]);
  });

  test('nothing of the pulls is left behind but images: no unpacking snapshots, no partial downloads', async () => {
    const snaps = fs.readdirSync(path.join(d.dataRoot, 'snapshots')).map((dir) => JSON.parse(fs.readFileSync(path.join(d.dataRoot, 'snapshots', dir, 'info.json'), 'utf8')));
    assert.deepEqual(snaps.filter((s) => s.kind !== 'committed').map((s) => s.name), []);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'content', 'ingest')), []);
    assert.equal(await d.ok(['system', 'check']), 'No problems found.');
    await d.assertClean();
  });
});

describe('pull and login against registries that want credentials, and distribution 2.8', () => {
  const d = new TestDaemon();
  const reg = new TestRegistry();
  const distDir = fs.mkdtempSync('/tmp/berth-dist-');
  const distribution = new Distribution(path.join(distDir, 'registry'));
  const env = { DOCKER_CONFIG: path.join(distDir, 'docker-config') };
  before(async () => {
    await d.start();
    await reg.startForAlice();
  });
  after(async () => {
    await distribution.stop();
    fs.rmSync(distDir, { recursive: true, force: true });
    await reg.cleanup();
    await d.cleanup();
  });

  test('login checks the credentials with the registry and keeps them in config.json; pull uses them; logout forgets', async () => {
    const auth = { Authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') };
    const saved = reg.request.bind(reg);
    reg.request = (m, p, o = {}) => saved(m, p, { ...o, headers: { ...auth, ...o.headers } });
    await pushLayers(reg, 'alice/app', '1', [fs.readFileSync(busyboxTar())]);
    reg.request = saved;
    const ref = `${reg.addr}/alice/app:1`;
    const denied = await d.berth(['pull', ref], { env });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /pull access denied/);
    const wrong = await d.berth(['login', '-u', 'alice', '--password-stdin', reg.addr], { env, input: 'nope\n' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|incorrect username or password/);
    assert.equal(fs.existsSync(path.join(env.DOCKER_CONFIG, 'config.json')), false);
    assert.equal((await d.berth(['login', '-u', 'alice', '--password-stdin', reg.addr], { env, input: 'wonderland\n' })).stdout.trim(), 'Login Succeeded');
    const cfg = JSON.parse(fs.readFileSync(path.join(env.DOCKER_CONFIG, 'config.json'), 'utf8'));
    assert.equal(Buffer.from(cfg.auths[reg.addr].auth, 'base64').toString(), 'alice:wonderland');
    const pulled = await d.berth(['pull', ref], { env });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match((await d.berth(['logout', reg.addr], { env })).stdout, /Removing login credentials/);
    await d.ok(['rmi', ref]);
    assert.notEqual((await d.berth(['pull', ref], { env })).code, 0);
    // The docker CLI's login goes through Berth's /auth.
    const dockerLogin = await exec(DOCKER, ['-H', d.host, 'login', '-u', 'alice', '--password-stdin', reg.addr], { env, input: 'wonderland\n' });
    assert.equal(dockerLogin.code, 0, dockerLogin.stderr);
    assert.equal((await exec(DOCKER, ['-H', d.host, 'pull', ref], { env })).code, 0);
  });

  test('a credential helper keeps the secret: login stores through it, config.json only names the registry; berth and docker pull with it; logout erases', async () => {
    const bin = path.join(distDir, 'helper-bin');
    const store = path.join(bin, 'store.json');
    fs.mkdirSync(bin);
    // docker's credential helper protocol over a JSON file: get/store/erase/list, the request on stdin.
    fs.writeFileSync(path.join(bin, 'docker-credential-berthtest'), `#!/usr/bin/env node
const fs = require('fs');
const file = ${JSON.stringify(store)};
const db = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const input = fs.readFileSync(0, 'utf8').trim();
const missing = () => { process.stdout.write('credentials not found in native keychain'); process.exit(1); };
switch (process.argv[2]) {
  case 'store': { const c = JSON.parse(input); db[c.ServerURL] = c; fs.writeFileSync(file, JSON.stringify(db)); break; }
  case 'get': if (!db[input]) missing(); process.stdout.write(JSON.stringify(db[input])); break;
  case 'erase': if (!db[input]) missing(); delete db[input]; fs.writeFileSync(file, JSON.stringify(db)); break;
  case 'list': process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(db).map(([k, v]) => [k, v.Username])))); break;
  default: process.exit(2);
}
`, { mode: 0o755 });
    const config = path.join(distDir, 'helper-config');
    fs.mkdirSync(config);
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
    const henv = { DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH}` };
    const ref = `${reg.addr}/alice/app:1`;
    assert.equal((await d.berth(['login', '-u', 'alice', '--password-stdin', reg.addr], { env: henv, input: 'wonderland\n' })).stdout.trim(), 'Login Succeeded');
    assert.deepEqual(JSON.parse(fs.readFileSync(store, 'utf8'))[reg.addr], { ServerURL: reg.addr, Username: 'alice', Secret: 'wonderland' });
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(config, 'config.json'), 'utf8')), { credsStore: 'berthtest', auths: { [reg.addr]: {} } }, 'no secret in config.json');
    await d.ok(['rmi', ref]);
    const pulled = await d.berth(['pull', ref], { env: henv });
    assert.equal(pulled.code, 0, pulled.stderr);
    await d.ok(['rmi', ref]);
    const docker = await exec(DOCKER, ['-H', d.host, 'pull', ref], { env: henv });
    assert.equal(docker.code, 0, docker.stderr);
    assert.match((await d.berth(['logout', reg.addr], { env: henv })).stdout, /Removing login credentials/);
    assert.deepEqual(JSON.parse(fs.readFileSync(store, 'utf8')), {});
    await d.ok(['rmi', ref]);
    const afterLogout = await d.berth(['pull', ref], { env: henv });
    assert.notEqual(afterLogout.code, 0);
    assert.match(afterLogout.stderr, /pull access denied/);
    // A helper that is not installed: reads warn and go on without credentials; a login fails naming it, and nothing is stored.
    fs.writeFileSync(path.join(config, 'config.json'), JSON.stringify({ credHelpers: { [reg.addr]: 'absent' } }));
    const anonymous = await d.berth(['pull', ref], { env: henv });
    assert.match(anonymous.stderr, /WARNING: docker-credential-absent is not in PATH .*going on without saved credentials/);
    assert.match(anonymous.stderr, /pull access denied/);
    const absent = await d.berth(['login', '-u', 'alice', '--password-stdin', reg.addr], { env: henv, input: 'wonderland\n' });
    assert.notEqual(absent.code, 0);
    assert.match(absent.stderr, /docker-credential-absent is not in PATH/);
  });

  test('Berth pulls from Debian\'s docker-registry (distribution 2.8)', { skip: spawnSync('sh', ['-c', 'command -v docker-registry']).status !== 0 && 'docker-registry is not installed' }, async () => {
    await distribution.start();
    const port = distribution.port;
    const oci = path.join(distDir, 'oci');
    const bundle = path.join(distDir, 'bundle');
    for (const args of [['init', '--layout', oci], ['new', '--image', `${oci}:bb`], ['unpack', '--image', `${oci}:bb`, bundle]]) assert.equal((await exec('umoci', args)).code, 0);
    await exec('tar', ['-xf', busyboxTar(), '-C', path.join(bundle, 'rootfs')]);
    for (const args of [['repack', '--image', `${oci}:bb`, bundle], ['config', '--image', `${oci}:bb`, '--config.cmd', 'sh', '--tag', 'bb']]) assert.equal((await exec('umoci', args)).code, 0);
    const copied = await exec('skopeo', ['copy', '--dest-tls-verify=false', `oci:${oci}:bb`, `docker://127.0.0.1:${port}/dist/busybox:1`]);
    assert.equal(copied.code, 0, copied.stderr);
    await d.ok(['pull', `127.0.0.1:${port}/dist/busybox:1`]);
    assert.equal(await d.ok(['run', '--rm', `127.0.0.1:${port}/dist/busybox:1`, 'echo', 'from distribution']), 'from distribution');
  });

  test('nothing leaks', () => d.assertClean());
});
