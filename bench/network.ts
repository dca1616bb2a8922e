/**
 * bench/network: throughput and latency between two containers on a user
 * network and through a published port, side by side with the floor (two
 * network namespaces joined by a plain veth pair; the host reaching a
 * namespace over a veth for the published-port row) and docker's bridge
 * (docker.io, a private dockerd) twice: with its default userland proxy
 * for published ports, and with --userland-proxy=false (kernel NAT, as
 * Berth's portmap), measured in one run on this machine.
 *
 *   bench/network [--reps N] [--seconds N] [--only floor,berth,docker,docker-nat,shares]
 *
 * The shares section (network-shares.ts) measures --network-bandwidth on a
 * link of known capacity, beside docker on the same link.
 *
 * The same tools run everywhere: iperf3 (Debian's, copied with its
 * libraries into the busybox image by scripts/busybox-rootfs) and busybox
 * ping -A for latency. Traffic stays on loopback and inside namespaces the
 * benchmark makes. docker changes iptables: its rules are saved before it
 * starts and restored after.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sharesSection } from './network-shares';
import { benchFlags, cell, type Daemon, dockerServerVersion, has, ROOT, sleep, startBerth, startDockerd, table } from './common';

interface Options {
  reps: number;
  seconds: number;
  only?: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { reps: 3, seconds: 5 };
  benchFlags(argv, {
    reps: (v) => (o.reps = Number(v)),
    seconds: (v) => (o.seconds = Number(v)),
    only: (v) => (o.only = new Set(v.split(','))),
  });
  return o;
}

/** Synchronous on purpose: the measured commands run one at a time, with nothing else in the process. */
function sh(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): string {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** A way to run a command where the client and the server are. */
interface Pair {
  /** Runs argv on the client side (a container or a namespace). */
  client(argv: string[]): string;
  serverIp: string;
}

function iperfGbit(out: string): number {
  return JSON.parse(out).end.sum_received.bits_per_second / 1e9;
}

function pingAvgMs(out: string): number {
  const m = /min\/avg\/max = [\d.]+\/([\d.]+)\//.exec(out);
  if (!m) throw new Error(`no ping summary in: ${out}`);
  return Number(m[1]);
}

function measurePair(p: Pair, o: Options): { gbit: number[]; latencyMs: number[] } {
  const gbit: number[] = [];
  const latencyMs: number[] = [];
  for (let i = 0; i < o.reps; i++) {
    gbit.push(iperfGbit(p.client(['iperf3', '-c', p.serverIp, '-t', String(o.seconds), '-J'])));
    latencyMs.push(pingAvgMs(p.client(['busybox', 'ping', '-A', '-q', '-c', '2000', p.serverIp])));
  }
  return { gbit, latencyMs };
}

/** The host's iperf3 against a published port on loopback. */
function measurePublished(port: number, o: Options): number[] {
  const xs: number[] = [];
  for (let i = 0; i < o.reps; i++) xs.push(iperfGbit(must('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(o.seconds), '-J'])));
  return xs;
}

// ---- the floor: namespaces and a veth pair ---------------------------------------

function floor(o: Options, tag: string): { c2c: { gbit: number[]; latencyMs: number[] }; hostToNs: number[] } {
  const a = `bnf${tag}a`;
  const b = `bnf${tag}b`;
  const h = `bnf${tag}h`;
  try {
    must('ip', ['netns', 'add', a]);
    must('ip', ['netns', 'add', b]);
    must('ip', ['link', 'add', `${a}0`, 'netns', a, 'type', 'veth', 'peer', 'name', `${b}0`, 'netns', b]);
    must('ip', ['-n', a, 'addr', 'add', '10.239.0.1/24', 'dev', `${a}0`]);
    must('ip', ['-n', b, 'addr', 'add', '10.239.0.2/24', 'dev', `${b}0`]);
    for (const [ns, dev] of [[a, `${a}0`], [b, `${b}0`]]) {
      must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Host to namespace over a veth, for the published-port row.
    must('ip', ['link', 'add', h, 'type', 'veth', 'peer', 'name', `${h}n`, 'netns', a]);
    must('ip', ['addr', 'add', '10.239.1.1/24', 'dev', h]);
    must('ip', ['link', 'set', h, 'up']);
    must('ip', ['-n', a, 'addr', 'add', '10.239.1.2/24', 'dev', `${h}n`]);
    must('ip', ['-n', a, 'link', 'set', `${h}n`, 'up']);
    const server = spawn('ip', ['netns', 'exec', a, 'iperf3', '-s'], { stdio: 'ignore' });
    spawnSync('sleep', ['0.5']);
    try {
      const c2c = measurePair({ serverIp: '10.239.0.1', client: (argv) => must('ip', ['netns', 'exec', b, ...argv]) }, o);
      const hostToNs: number[] = [];
      for (let i = 0; i < o.reps; i++) hostToNs.push(iperfGbit(must('iperf3', ['-c', '10.239.1.2', '-t', String(o.seconds), '-J'])));
      return { c2c, hostToNs };
    } finally {
      server.kill();
    }
  } finally {
    sh('ip', ['link', 'del', h]);
    sh('ip', ['netns', 'del', a]);
    sh('ip', ['netns', 'del', b]);
  }
}

// ---- Berth and docker: the same steps through their CLIs ----------------------------

function ctl(d: Daemon, args: string[]): string {
  return must(d.cli[0], [...d.cli.slice(1), ...args]);
}

async function containers(d: Daemon, o: Options): Promise<{ c2c: { gbit: number[]; latencyMs: number[] }; published: number[] }> {
  ctl(d, ['network', 'create', 'benchnet']);
  try {
    ctl(d, ['run', '-d', '--name', 'iperf-server', '--network', 'benchnet', '-p', '5201', IMAGE, 'iperf3', '-s']);
    ctl(d, ['run', '-d', '--name', 'iperf-client', '--network', 'benchnet', IMAGE, 'sleep', '100000']);
    await sleep(500);
    const ip = ctl(d, ['inspect', '-f', '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}', 'iperf-server']);
    const port = Number(ctl(d, ['port', 'iperf-server', '5201']).split('\n')[0].split(':').pop());
    const c2c = measurePair({ serverIp: ip, client: (argv) => ctl(d, ['exec', 'iperf-client', ...argv]) }, o);
    return { c2c, published: measurePublished(port, o) };
  } finally {
    sh(d.cli[0], [...d.cli.slice(1), 'rm', '-f', 'iperf-server', 'iperf-client']);
    sh(d.cli[0], [...d.cli.slice(1), 'network', 'rm', 'benchnet']);
  }
}

const IMAGE = 'iperf:bench';

/** docker on a bridge of the benchmark's own; published ports through its userland proxy, or (nat) the kernel's NAT alone. */
async function docker(tar: string, tag: string, nat: boolean): Promise<Daemon | undefined> {
  if (!has('dockerd')) return undefined;
  const bridge = `bnd${tag}`;
  must('ip', ['link', 'add', bridge, 'type', 'bridge']);
  must('ip', ['addr', 'add', '10.238.0.1/24', 'dev', bridge]);
  must('ip', ['link', 'set', bridge, 'up']);
  const d = await startDockerd(['--bridge', bridge, ...(nat ? ['--userland-proxy=false'] : [])], tar, IMAGE);
  const dropBridge = () => void sh('ip', ['link', 'del', bridge]);
  if (!d) dropBridge();
  return d && { ...d, stop: () => d.stop().finally(dropBridge) };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench/network runs as root');
  if (!has('iperf3')) throw new Error('iperf3 is missing: run scripts/setup');
  const want = (k: string) => !o.only || o.only.has(k);
  const tag = String(process.pid % 100000);
  const tmp = fs.mkdtempSync('/tmp/berth-bench-net-');
  const tar = path.join(tmp, 'iperf.tar');
  must(path.join(ROOT, 'scripts', 'busybox-rootfs'), [tar, '/usr/bin/iperf3']);
  const cols: string[] = [];
  const rows: Record<string, Record<string, string>> = {};
  const put = (row: string, col: string, v: string) => ((rows[row] ??= {})[col] = v);
  const R_T = 'container → container, TCP throughput';
  const R_L = 'container → container, ping -A round trip';
  const R_P = 'host loopback → published port, TCP throughput';
  try {
    if (want('floor')) {
      console.error('bench: floor ...');
      const f = floor(o, tag);
      cols.push('floor (netns + veth)');
      put(R_T, cols.at(-1)!, cell(f.c2c.gbit, 'Gbit/s', 1));
      put(R_L, cols.at(-1)!, cell(f.c2c.latencyMs.map((x) => x * 1000), 'µs', 0));
      put(R_P, cols.at(-1)!, `${cell(f.hostToNs, 'Gbit/s', 1)} (host → netns, no NAT)`);
    }
    for (const k of ['berth', 'docker', 'docker-nat']) {
      if (!want(k)) continue;
      console.error(`bench: ${k} ...`);
      // docker rewrites iptables (chains, FORWARD policy): its rules go back as they were.
      const saved = k !== 'berth' ? must('iptables-save', []) : '';
      const e = k === 'berth' ? await startBerth(path.join(tmp, 'berth'), tag, tar, IMAGE) : await docker(tar, tag, k === 'docker-nat');
      if (!e) continue;
      const col = k === 'berth' ? 'Berth (CNI bridge, portmap)' : `docker ${await dockerServerVersion(e.cli)} (bridge, ${k === 'docker' ? 'userland proxy' : '--userland-proxy=false'})`;
      try {
        const r = await containers(e, o);
        cols.push(col);
        put(R_T, col, cell(r.c2c.gbit, 'Gbit/s', 1));
        put(R_L, col, cell(r.c2c.latencyMs.map((x) => x * 1000), 'µs', 0));
        put(R_P, col, cell(r.published, 'Gbit/s', 1));
      } finally {
        await e.stop();
        if (saved) spawnSync('iptables-restore', [], { input: saved });
      }
    }
    if (cols.length) console.log(table(cols, rows, `${o.reps} runs of ${o.seconds} s iperf3 and 2000 pings each; median (min-max).`));
    if (want('shares')) {
      const s = await sharesSection(tmp, tag, tar, Math.max(o.seconds, 4));
      console.log(`\n${table(s.columns, s.rows, `one run of ${Math.max(o.seconds, 4)} s iperf3 per row.`)}\n\n${s.notes.join('\n')}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench/network: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
