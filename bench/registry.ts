/**
 * bench/registry, two tables from one run:
 * 1. Berth's registry server side by side with Debian's docker-registry
 *    (distribution 2.8) on loopback: skopeo pushes and pulls an image of 20
 *    gzip layers totalling about 500 MB; each round starts both servers on
 *    empty roots, so nothing is found already there.
 * 2. Time to a runnable image, pulled from Berth's registry: `berth pull`
 *    (layers in parallel, each unpacked as it streams), docker and podman,
 *    and the floor of pull-then-unpack: skopeo copy to an OCI layout, then
 *    `umoci raw unpack` (the layers into a root filesystem, without the
 *    mtree manifest `umoci unpack` also writes). Each round starts from an
 *    empty store; the pullers take turns to go first.
 *
 *   bench/registry [--rounds 3] [--mb 500] [--layers 20] [--only server|pull]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { BERTH, cell, dockerServerVersion, has, median, must, ROOT, run, sleep, startBerth, startDockerd, stopProcess, table, toolVersion } from './common';
import { mountsUnder } from '../test/host';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** A tar of one file of `bytes` random bytes (random: gzip cannot shrink it, so the bytes moved are the bytes stated). */
function tarOf(name: string, bytes: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(bytes.toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = randomBytes(bytes);
  const pad = Buffer.alloc((512 - (bytes % 512)) % 512);
  return Buffer.concat([header, body, pad, Buffer.alloc(1024)]);
}

/** An OCI layout of `layers` gzip layers of `mb` MB in all, tagged `bench`. */
export function makeLayout(dir: string, layers: number, mb: number): number {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    fs.writeFileSync(path.join(blobs, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const diffIds: string[] = [];
  const descs = [];
  let total = 0;
  for (let i = 0; i < layers; i++) {
    const tar = tarOf(`layer-${i}.bin`, Math.floor((mb << 20) / layers));
    diffIds.push(sha(tar));
    const gz = gzipSync(tar, { level: 1 });
    total += gz.length;
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gz) });
  }
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } })));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: descs }));
  const m = put(manifest);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }] }));
  return total;
}

interface Server {
  name: string;
  start(root: string, port: number): Promise<ChildProcess>;
}

async function waitFor(port: number, p: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (p.exitCode !== null) throw new Error('server exited');
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) return;
    await sleep(50);
  }
  throw new Error('server did not start');
}

const servers: Server[] = [
  {
    name: 'Berth registry',
    async start(root, port) {
      const p = spawn(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', root, '--log-level', 'warn'], { stdio: 'ignore' });
      await waitFor(port, p);
      return p;
    },
  },
  {
    name: `docker-registry (distribution ${toolVersion('docker-registry')})`,
    async start(root, port) {
      const cfg = path.join(path.dirname(root), `distribution-${port}.yml`);
      fs.writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
      const p = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
      await waitFor(port, p);
      return p;
    },
  },
];

async function main(): Promise<void> {
  const rounds = flag('rounds', 3);
  const mb = flag('mb', 500);
  const layers = flag('layers', 20);
  const oi = process.argv.indexOf('--only');
  const only = oi > 0 ? process.argv[oi + 1] : undefined;
  for (const tool of ['skopeo', 'docker-registry']) if (!has(tool)) throw new Error(`${tool} is not installed: run scripts/setup`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-reg-'));
  try {
    const layout = path.join(work, 'layout');
    const bytes = makeLayout(layout, layers, mb);
    const times: Record<string, { push: number[]; pull: number[] }> = {};
    for (const s of servers) times[s.name] = { push: [], pull: [] };
    let port = 5400 + Math.floor(Math.random() * 500);
    for (let r = 0; r < (only === 'pull' ? 0 : rounds); r++) {
      for (const s of servers.map((_, i) => servers[(i + r) % servers.length])) {
        const root = path.join(work, `root-${r}-${port}`);
        const proc = await s.start(root, port);
        try {
          const ref = `docker://127.0.0.1:${port}/bench/image:1`;
          const push = await must('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:bench`, ref], { quiet: true });
          const pulled = path.join(work, `pulled-${port}`);
          const pull = await must('skopeo', ['copy', '--src-tls-verify=false', ref, `oci:${pulled}:bench`], { quiet: true });
          times[s.name].push.push(push.ms / 1000);
          times[s.name].pull.push(pull.ms / 1000);
          fs.rmSync(pulled, { recursive: true, force: true });
        } finally {
          await stopProcess(proc);
          fs.rmSync(root, { recursive: true, force: true });
        }
        port++;
      }
    }
    if (only !== 'pull') printServerTable(times, bytes, layers, rounds);
    if (only !== 'server') await pullTable(work, layout, bytes, layers, rounds);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function printServerTable(times: Record<string, { push: number[]; pull: number[] }>, bytes: number, layers: number, rounds: number): void {
  {
    const rows: Record<string, Record<string, string>> = {};
    for (const [name, t] of Object.entries(times)) {
      rows[name] = { 'skopeo push': cell(t.push, 's', 2), 'skopeo pull': cell(t.pull, 's', 2), 'push MB/s': cell(t.push.map((x) => bytes / 1e6 / x), 'MB/s'), 'pull MB/s': cell(t.pull.map((x) => bytes / 1e6 / x), 'MB/s') };
    }
    console.log(table(['skopeo push', 'skopeo pull', 'push MB/s', 'pull MB/s'], rows, `${layers} gzip layers, ${(bytes / 1e6).toFixed(0)} MB, skopeo ${toolVersion('skopeo')} over loopback HTTP; median (min-max) of ${rounds} rounds, each on empty roots.`));
  }
}

const FLOOR = 'pull, then unpack (skopeo copy + umoci raw unpack)';

interface Puller {
  name: string;
  /** Pulls `ref` (host:port/path:tag) until it can run; returns ms. Cleans up after itself. */
  pull(ref: string, round: number): Promise<number>;
  stop(): Promise<void>;
}

async function pullers(work: string, tar: string): Promise<Puller[]> {
  const out: Puller[] = [];
  const tag = String(process.pid % 100000);
  const berth = await startBerth(path.join(work, 'berth'), tag, tar, 'busybox:latest');
  const bcli = (args: string[]) => must(berth.cli[0], [...berth.cli.slice(1), ...args], { quiet: true });
  out.push({
    name: 'berth pull',
    async pull(ref) {
      const t = await bcli(['pull', '-q', ref]);
      await bcli(['rmi', ref]);
      await bcli(['image', 'prune', '-f']);
      return t.ms;
    },
    stop: () => berth.stop(),
  });
  const docker = await startDockerd(['--iptables=false', '--ip-masq=false', '--bridge=none'], tar, 'busybox:latest');
  if (docker) {
    const dcli = (args: string[]) => must(docker.cli[0], [...docker.cli.slice(1), ...args], { quiet: true });
    out.push({
      name: `docker ${await dockerServerVersion(docker.cli)} pull`,
      async pull(ref) {
        const t = await dcli(['pull', '-q', ref]);
        await dcli(['rmi', ref]);
        return t.ms;
      },
      stop: () => docker.stop(),
    });
  }
  if (has('podman')) {
    const store = path.join(work, 'podman');
    const pcli = (args: string[]) => must('podman', ['--root', `${store}/root`, '--runroot', `${store}/run`, ...args], { quiet: true });
    out.push({
      name: `podman ${toolVersion('podman')} pull`,
      async pull(ref) {
        const t = await pcli(['pull', '-q', '--tls-verify=false', ref]);
        await pcli(['rmi', '-a', '-f']);
        return t.ms;
      },
      stop: async () => {
        await run('podman', ['--root', `${store}/root`, '--runroot', `${store}/run`, 'system', 'reset', '-f']);
        for (const m of mountsUnder(store).reverse()) await run('umount', ['-l', m]);
      },
    });
  }
  if (has('umoci')) {
    out.push({
      name: FLOOR,
      async pull(ref, round) {
        const layout = path.join(work, `layout-${round}`);
        const bundle = path.join(work, `bundle-${round}`);
        const t0 = performance.now();
        await must('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:x`], { quiet: true });
        await must('umoci', ['raw', 'unpack', '--image', `${layout}:x`, bundle], { quiet: true });
        const ms = performance.now() - t0;
        fs.rmSync(layout, { recursive: true, force: true });
        fs.rmSync(bundle, { recursive: true, force: true });
        return ms;
      },
      stop: async () => {},
    });
  }
  return out;
}

async function pullTable(work: string, layout: string, bytes: number, layers: number, rounds: number): Promise<void> {
  const root = path.join(work, 'pull-registry');
  const port = 6100 + Math.floor(Math.random() * 500);
  const reg = await servers[0].start(root, port);
  const tar = path.join(work, 'busybox.tar');
  await must(path.join(ROOT, 'scripts', 'busybox-rootfs'), [tar]);
  const ref = `127.0.0.1:${port}/bench/image:1`;
  const ps = await pullers(work, tar);
  try {
    await must('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${ref}`], { quiet: true });
    const times: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      for (const p of ps.map((_, i) => ps[(i + r) % ps.length])) {
        spawnSync('sync');
        (times[p.name] ??= []).push((await p.pull(ref, r)) / 1000);
      }
    }
    const floor = Math.min(...(times[FLOOR] ?? [Infinity]));
    const rows: Record<string, Record<string, string>> = {};
    for (const [name, t] of Object.entries(times)) {
      rows[name] = { 'to a runnable image': cell(t, 's', 2), 'MB/s': cell(t.map((x) => bytes / 1e6 / x), 'MB/s') };
      if (Number.isFinite(floor)) rows[name]['pull-then-unpack ÷ this'] = `${(median(times[FLOOR]) / median(t)).toFixed(2)}×`;
    }
    console.log('\n' + table(['to a runnable image', 'MB/s', 'pull-then-unpack ÷ this'], rows, `the same ${layers}-layer, ${(bytes / 1e6).toFixed(0)} MB image from Berth's registry over loopback HTTP; median (min-max) of ${rounds} rounds, each into an empty store.`));
  } finally {
    for (const p of ps) await p.stop();
    await stopProcess(reg);
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
