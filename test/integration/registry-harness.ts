import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { sleep } from './harness';

const BERTH = path.resolve(__dirname, '../../../bin/berth');

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A `berth registry serve` of its own: root folder, port chosen by the kernel. */
export class TestRegistry {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reg-'));
  readonly root = path.join(this.dir, 'root');
  port = 0;
  private proc?: ChildProcess;
  log = '';

  get addr() {
    return `127.0.0.1:${this.port}`;
  }

  async start(extra: string[] = []): Promise<void> {
    this.log = '';
    const p = spawn(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${this.port}`, '--root', this.root, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    p.stdout!.on('data', (d) => (this.log += d));
    p.stderr!.on('data', (d) => (this.log += d));
    for (let i = 0; i < 400; i++) {
      const m = /registry listening addr=127\.0\.0\.1:(\d+)/.exec(this.log);
      if (m) {
        this.port = Number(m[1]);
        return;
      }
      if (p.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`registry did not start:\n${this.log}`);
  }

  /** Serves with docker's token flow to one user, alice (password wonderland), made by Apache's htpasswd. */
  async startForAlice(): Promise<void> {
    fs.writeFileSync(path.join(this.dir, 'htpasswd'), spawnSync('htpasswd', ['-Bbn', 'alice', 'wonderland']).stdout);
    await this.start(['--htpasswd', path.join(this.dir, 'htpasswd'), '--auth', 'token']);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await done;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** One request; `body` sent whole. */
  request(method: string, urlPath: string, o: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const body = typeof o.body === 'string' ? Buffer.from(o.body) : o.body;
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: urlPath, headers: { ...(body ? { 'Content-Length': body.length } : {}), ...o.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Blob files in the content store. */
  blobs(): string[] {
    const out: string[] = [];
    for (const alg of ['sha256', 'sha512']) {
      const dir = path.join(this.root, 'content', 'blobs', alg);
      if (fs.existsSync(dir)) out.push(...fs.readdirSync(dir).map((h) => `${alg}:${h}`));
    }
    return out.sort();
  }

  ingests(): string[] {
    const dir = path.join(this.root, 'content', 'ingest');
    return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  }
}

export const digestOf = (b: Buffer | string, alg: 'sha256' | 'sha512' = 'sha256') => `${alg}:${createHash(alg).update(b).digest('hex')}`;

/** The spec's error code of a reply. */
export function errorCode(r: Reply): string {
  return `${r.status} ${r.body.length ? r.json().errors?.[0]?.code : ''}`.trim();
}

/** Pushes a blob monolithically; returns its digest. */
export async function pushBlob(reg: TestRegistry, name: string, data: Buffer | string): Promise<string> {
  const d = digestOf(data);
  const r = await reg.request('POST', `/v2/${name}/blobs/uploads/?digest=${d}`, { body: data });
  assert.equal(r.status, 201, r.body.toString());
  return d;
}

/** An image of one config and `layers` small layers, pushed under `tag`; returns the manifest and its digest. */
export async function pushImage(reg: TestRegistry, name: string, tag: string, seed: string, layers = 1, mediaType = 'application/vnd.oci.image.manifest.v1+json') {
  const layerData = Array.from({ length: layers }, (_, i) => Buffer.from(`${seed} layer ${i}`));
  const layerDigests: string[] = [];
  for (const l of layerData) layerDigests.push(await pushBlob(reg, name, l));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layerDigests } }));
  const configDigest = await pushBlob(reg, name, config);
  const docker = mediaType.includes('docker');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layerData.map((l, i) => ({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar' : 'application/vnd.oci.image.layer.v1.tar', digest: layerDigests[i], size: l.length })),
    }),
  );
  const r = await reg.request('PUT', `/v2/${name}/manifests/${tag}`, { headers: { 'Content-Type': mediaType }, body: manifest });
  assert.equal(r.status, 201, r.body.toString());
  return { manifest, digest: r.headers['docker-content-digest'] as string, blobs: [configDigest, ...layerDigests] };
}

/** Debian's docker-registry (distribution 2.8) on a loopback port of its own, storing under `dir`. */
export class Distribution {
  port = 20000 + Math.floor(Math.random() * 20000);
  private proc?: ChildProcess;
  constructor(private readonly dir: string) {}

  get addr() {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const cfg = path.join(this.dir, 'config.yml');
    fs.writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${this.dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: ${this.addr}\n`);
    this.proc = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`http://${this.addr}/v2/`).then((r) => r.status, () => 0)) === 200) return;
      await sleep(100);
    }
    throw new Error('docker-registry did not start');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill();
    await done;
  }
}
