/**
 * bench/compose: `berth compose` against Berth beside docker-compose 1.29
 * against a private dockerd (docker.io), on the same generated file, in one
 * run on this machine:
 *  - a file of S services (default 200): a random DAG of depth 10, busybox
 *    `httpd` or `sleep`, a health check on a fifth of them (what needs one of
 *    those waits for it to be healthy), every container with `init: true`;
 *  - `up -d` and `down` of one environment, and each container's memory
 *    (just after the up, and again once it has rested)
 *    (the daemon's growth and the monitors, per container);
 *  - a layered environment replacing 5 services of it (Berth's `--base`;
 *    docker-compose has none: its row shows what a whole copy costs it);
 *  - E environments (default 5) brought up at once, then taken down at once.
 * The floor: the same number of containers made and started through
 * Berth's API directly, 64 at a time: no order, no health waits, no CLI.
 *
 *   bench/compose [--services S] [--health-share F] [--envs E] [--seed N] [--only berth,docker]
 *
 * Health probes cost both engines most of this host's CPU (every probe is a
 * `runc exec`): `--health-share 0` measures the orchestration alone.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { seededRandom } from '../src/base/seeded';
import { busyboxTar } from '../test/integration/harness';
import { ApiClient } from '../src/client/client';
import { benchFlags, type Daemon, dockerServerVersion, has, must, pidsMatching, removeThroughApi, rssKiB, startBerth, startDockerd, startThroughApi, table, toolVersion } from './common';

interface Options {
  services: number;
  /** The share of services with a health check (probed every second). */
  healthShare: number;
  envs: number;
  seed: number;
  only?: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { services: 200, healthShare: 0.2, envs: 5, seed: 1 };
  benchFlags(argv, {
    services: (v) => (o.services = Number(v)),
    'health-share': (v) => (o.healthShare = Number(v)),
    envs: (v) => (o.envs = Number(v)),
    seed: (v) => (o.seed = Number(v)),
    only: (v) => (o.only = new Set(v.split(','))),
  });
  return o;
}

const DEPTH = 10;

/**
 * The file: services spread over DEPTH levels; each below the first needs one
 * to three of the level above (so the graph is DEPTH deep) and sometimes one
 * further up. Returns the file and the names of 5 services of the middle
 * levels, for the layered environment.
 */
export function generate(n: number, seed: number, healthShare = 0.2): { yaml: string; replaced: string[] } {
  const rand = seededRandom(seed);
  const levels: string[][] = Array.from({ length: DEPTH }, () => []);
  const names = Array.from({ length: n }, (_, i) => `s${String(i).padStart(3, '0')}`);
  names.forEach((s, i) => levels[i < DEPTH ? i : Math.floor(rand() * DEPTH)].push(s));
  const healthy = new Set(names.filter(() => rand() < healthShare));
  const lines = ['services:'];
  for (const [l, level] of levels.entries()) {
    for (const s of level) {
      const needs = new Set<string>();
      if (l > 0) {
        const above = levels[l - 1];
        for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) needs.add(above[Math.floor(rand() * above.length)]);
        if (l > 1 && rand() < 0.3) {
          const far = levels[Math.floor(rand() * (l - 1))];
          needs.add(far[Math.floor(rand() * far.length)]);
        }
      }
      lines.push(`  ${s}:`, '    image: busybox', '    init: true');
      lines.push(rand() < 0.5 ? '    command: ["httpd", "-f", "-p", "80"]' : '    command: ["sleep", "100000"]');
      if (healthy.has(s)) lines.push('    healthcheck:', '      test: ["CMD", "true"]', '      interval: 1s', '      retries: 3');
      if (needs.size) {
        lines.push('    depends_on:');
        for (const d of [...needs].sort()) lines.push(`      ${d}:`, `        condition: ${healthy.has(d) ? 'service_healthy' : 'service_started'}`);
      }
    }
  }
  const middle = [...levels[4], ...levels[5]];
  return { yaml: lines.join('\n') + '\n', replaced: middle.slice(0, 5) };
}

interface System {
  name: string;
  /** The compose command line up to its subcommand, for a project. */
  compose(project: string, args: string[], base?: string): Promise<{ ms: number }>;
  daemonPids(): number[];
  monitorPids(): number[];
  daemon: Daemon;
}

/** How long after an up its memory is read again, at rest. */
const REST_MS = 15_000;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number }> {
  const r = await must(cmd, args, { quiet: true, env });
  return { ms: r.ms };
}

/** Memory per container just after an up: the daemon's growth over its idle size, and the monitors', divided by the containers. */
function perContainerKiB(s: System, idleKiB: number, n: number): number {
  const daemon = s.daemonPids().reduce((sum, p) => sum + rssKiB(p), 0) - idleKiB;
  const monitors = s.monitorPids().reduce((sum, p) => sum + rssKiB(p), 0);
  return (daemon + monitors) / n;
}

/** One row's measurement: its cell, or why it failed (the run goes on); each printed to stderr as it comes. */
async function row(out: Record<string, string>, key: string, fn: () => Promise<string>): Promise<boolean> {
  try {
    out[key] = await fn();
    console.error(`bench: ${key}: ${out[key]}`);
    return true;
  } catch (e) {
    // The line that says why (docker-compose prints its ERROR among many progress lines), else the last.
    const lines = String((e as Error).message).split('\n');
    out[key] = `failed: ${(lines.find((l) => /\bERROR\b|Error response/.test(l)) ?? lines[lines.length - 1]).slice(0, 120)}`;
    console.error(`bench: ${key}: ${(e as Error).message.slice(-2000)}`);
    return false;
  }
}

async function measure(s: System, file: string, o: Options, replaced: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const idle = s.daemonPids().reduce((sum, p) => sum + rssKiB(p), 0);
  if (await row(out, 'up', async () => secs((await s.compose('bench', ['-f', file, 'up', '-d'])).ms))) {
    out.memory = `${(perContainerKiB(s, idle, o.services) / 1024).toFixed(2)} MiB`;
    // And once the up's own work is done and its garbage given back: what running the project holds.
    await new Promise((r) => setTimeout(r, REST_MS));
    out.memoryAtRest = `${(perContainerKiB(s, idle, o.services) / 1024).toFixed(2)} MiB`;
  }
  if (s.name.startsWith('Berth')) {
    await row(out, 'layered', async () => secs((await s.compose('layer', ['-f', file, 'up', '-d', ...replaced], 'bench')).ms));
    await s.compose('layer', ['-f', file, 'down']).catch(() => undefined);
  } else out.layered = 'n/a (no layering: a whole copy is the up row)';
  await row(out, 'down', async () => secs((await s.compose('bench', ['-f', file, 'down'])).ms));
  const envs = Array.from({ length: o.envs }, (_, i) => `env${i}`);
  const all = async (args: string[]) => {
    const t0 = performance.now();
    await Promise.all(envs.map((e) => s.compose(e, ['-f', file, ...args])));
    return secs(performance.now() - t0);
  };
  await row(out, 'upMany', () => all(['up', '-d']));
  await row(out, 'downMany', () => all(['down']));
  return out;
}

/** The floor: as many containers made and started through the engine's API, 64 at a time, then removed; no CLI processes, no order, no waits. */
async function floor(d: Daemon, n: number): Promise<{ up: number; down: number }> {
  const api = new ApiClient(d.cli[2].slice('unix://'.length));
  let t0 = performance.now();
  const ids = await startThroughApi(api, n, 64, { HostConfig: { Init: true } });
  const up = performance.now() - t0;
  t0 = performance.now();
  await removeThroughApi(api, ids, 64);
  return { up, down: performance.now() - t0 };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const want = (k: string) => !o.only || o.only.has(k);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-compose-'));
  const file = path.join(tmp, 'compose.yaml');
  const { yaml, replaced } = generate(o.services, o.seed, o.healthShare);
  fs.writeFileSync(file, yaml);
  const tar = busyboxTar();
  const rows: Record<string, Record<string, string>> = {};
  const columns: string[] = [];
  const R = {
    up: `up -d of one environment (${o.services} services, depth ${DEPTH}, ${Math.round(o.healthShare * 100)}% with a health check)`,
    down: 'down of it',
    memory: 'memory per container (daemon growth + monitors, RSS), just after the up',
    memoryAtRest: `memory per container (daemon growth + monitors, RSS), ${REST_MS / 1000} s after the up`,
    layered: 'a layered environment replacing 5 services (up -d)',
    upMany: `${o.envs} environments up -d at once`,
    downMany: `${o.envs} environments down at once`,
  };
  for (const r of Object.values(R)) rows[r] = {};
  try {
    if (want('berth')) {
      const d = await startBerth(path.join(tmp, 'berth'), String(process.pid), tar, 'busybox:latest');
      try {
        const f = await floor(d, o.services);
        columns.push('floor (the API alone, no order)');
        rows[R.up][columns[0]] = secs(f.up);
        rows[R.down][columns[0]] = secs(f.down);
        const execRoot = path.join(d.dir, 'exec');
        const s: System = {
          name: 'Berth (berth compose)',
          daemon: d,
          compose: (project, args, base) => timed(d.cli[0], [...d.cli.slice(1), 'compose', '-p', project, ...(base ? ['--base', base] : []), ...args]),
          daemonPids: () => (d.proc.pid ? [d.proc.pid] : []),
          // Every conmon of this daemon's: a container's, and the probe agent's of a container with a health check (what probing keeps).
          monitorPids: () => pidsMatching((c, comm) => comm === 'conmon' && c.includes(execRoot)),
        };
        columns.push(s.name);
        for (const [k, v] of Object.entries(await measure(s, file, o, replaced))) rows[R[k as keyof typeof R]][s.name] = v;
      } finally {
        await d.stop();
      }
    }
    if (want('docker') && has('docker-compose')) {
      // dockerd rewrites iptables (its chains, the FORWARD policy): they go back as they were.
      const saved = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
      // Its iptables on, as users run it; no default bridge (compose makes the project's networks).
      const d = await startDockerd(['--bridge=none'], tar, 'busybox:latest');
      try {
        if (d) {
          const ns = path.basename(d.dir);
          const s: System = {
            name: `docker-compose ${toolVersion('docker-compose')} + dockerd ${await dockerServerVersion(d.cli)}`,
            daemon: d,
            // Its HTTP timeout (60 s) cuts a down of 1,000 containers short on this host: raised, so its times can be measured.
            compose: (project, args) => timed('docker-compose', ['-H', d.cli[2], '-p', project, ...args], { COMPOSE_HTTP_TIMEOUT: '600' }),
            daemonPids: () => [d.proc.pid!, ...pidsMatching((c, comm) => comm === 'containerd' && c.includes(d.dir))],
            monitorPids: () => pidsMatching((c, comm) => comm.startsWith('containerd-shim') && c.includes(ns)),
          };
          columns.push(s.name);
          for (const [k, v] of Object.entries(await measure(s, file, o, replaced))) rows[R[k as keyof typeof R]][s.name] = v;
        }
      } finally {
        await d?.stop();
        spawnSync('iptables-restore', [], { input: saved });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const berth = columns.find((c) => c.startsWith('Berth'));
  const docker = columns.find((c) => c.startsWith('docker-compose'));
  if (berth && docker) {
    columns.push('Berth / docker');
    for (const r of Object.values(rows)) {
      const a = parseFloat(r[berth]);
      const b = parseFloat(r[docker]);
      if (Number.isFinite(a) && Number.isFinite(b) && b > 0) r['Berth / docker'] = (a / b).toFixed(2);
    }
  }
  console.log(table(columns, rows, `one run each; the file's seed ${o.seed}; Berth's compose with --parallel 64 (its default), docker-compose with its defaults.`));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
