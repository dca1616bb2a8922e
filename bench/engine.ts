/**
 * bench/engine: Berth's engine side by side with the floor (raw `runc run` of
 * a prepared bundle), docker (docker.io) and podman, measured in one run on
 * this machine. Prints one markdown table; each cell is the median and, in
 * brackets, the spread (min-max) of the repetitions.
 *
 *   bench/engine [--reps N] [--parallel N] [--flood-mib N] [--health N] [--health-seconds S] [--no-install] [--only floor,berth,berth-exec,docker-cli,docker,podman]
 *   (berth-exec: the health rows of a Berth daemon with --health-probes exec)
 *
 * Every system runs the same busybox root filesystem (made by
 * scripts/busybox-rootfs) with no network (`--network none`: this table is
 * about the engine; bench/network measures networks). Each gets its own data
 * root under a temporary folder, removed at the end; docker and podman are
 * started (podman installed) when missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountsUnder } from '../test/host';
import { benchFlags, cell, dockerServerVersion, has, must, pidsMatching, pssKiB, ROOT, rssKiB, run, sleep, startBerth, startDockerd, table, toolVersion } from './common';

interface Options {
  reps: number;
  parallel: number;
  floodMiB: number;
  /** Containers probed every second for the health rows (0: none), and for how long. */
  health: number;
  healthSeconds: number;
  install: boolean;
  only?: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { reps: 10, parallel: 50, floodMiB: 1024, health: 100, healthSeconds: 600, install: true };
  benchFlags(argv, {
    reps: (v) => (o.reps = Number(v)),
    parallel: (v) => (o.parallel = Number(v)),
    'flood-mib': (v) => (o.floodMiB = Number(v)),
    health: (v) => (o.health = Number(v)),
    'health-seconds': (v) => (o.healthSeconds = Number(v)),
    only: (v) => (o.only = new Set(v.split(','))),
  }, { 'no-install': () => (o.install = false) });
  return o;
}

// ---- processes and numbers ----------------------------------------------------

/** Samples a process tree's RSS while fn runs; returns the largest growth in KiB. */
async function rssGrowthDuring<T>(pids: () => number[], fn: () => Promise<T>): Promise<{ result: T; growthKiB: number }> {
  const total = () => pids().reduce((s, p) => s + rssKiB(p), 0);
  const before = total();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, total())), 100);
  try {
    const result = await fn();
    peak = Math.max(peak, total());
    return { result, growthKiB: peak - before };
  } finally {
    clearInterval(timer);
  }
}

// ---- the systems ----------------------------------------------------------------

/** One way of running containers: a command prefix and how to find its processes. */
interface System {
  name: string;
  /** argv of the CLI up to the subcommand. */
  cli: string[];
  /** Extra `run` flags. */
  runFlags: string[];
  /** Extra `rm -f` flags. */
  rmFlags?: string[];
  /** The daemon's processes (idle RSS, flood growth); empty when there is none. */
  daemonPids(): number[];
  /** The per-container monitor processes. */
  monitorPids(): number[];
  /** Processes kept per probed container besides its monitor (Berth's probe agents and their conmons). */
  probeHelperPids?(): number[];
  stop(): Promise<void>;
}

async function berthSystem(tmp: string, rootfsTar: string, tag = '', daemonArgs: string[] = []): Promise<{ berth: System; dockerCli: System }> {
  const d = await startBerth(path.join(tmp, `berth${tag}`), `${process.pid}${tag}`, rootfsTar, 'busybox:latest', daemonArgs);
  await sleep(1000); // settle before the idle reading
  const execRoot = path.join(d.dir, 'exec');
  const daemonPids = () => (d.proc.pid ? [d.proc.pid] : []);
  const monitorPids = () => pidsMatching((c, comm) => comm === 'conmon' && c.includes(execRoot) && !c.includes(' --exec '));
  const agentConmons = () => pidsMatching((c, comm) => comm === 'conmon' && c.includes(path.join(execRoot, 'exec', 'agent-')));
  // An agent is a child of its conmon.
  const probeHelperPids = () => {
    const conmons = agentConmons();
    const agents = pidsMatching((_c, comm) => comm === 'berth-probe').filter((p) => conmons.includes(parentOf(p)));
    return [...conmons, ...agents];
  };
  const runFlags = ['--network', 'none'];
  const name = `Berth${daemonArgs.length ? ` (${daemonArgs.join(' ')})` : ''}`;
  return {
    berth: { name: `${name}${tag ? '' : ' (berth CLI)'}`, cli: d.cli, runFlags, daemonPids, monitorPids, probeHelperPids, stop: d.stop },
    dockerCli: { name: 'Berth (docker CLI)', cli: ['docker', ...d.cli.slice(1)], runFlags, daemonPids, monitorPids, stop: async () => {} },
  };
}

function parentOf(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  } catch {
    return 0;
  }
}

/** CPU time used on the whole host so far, in seconds (all cores). */
function hostCpuSeconds(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / 100;
}

async function dockerSystem(rootfsTar: string): Promise<System | undefined> {
  const d = await startDockerd(['--iptables=false', '--ip-masq=false', '--bridge=none'], rootfsTar, 'busybox:latest');
  if (!d) return undefined;
  await sleep(1000);
  const ns = path.basename(d.dir);
  // dockerd starts its own containerd, whose state lives under the exec root.
  const daemonPids = () => [d.proc.pid!, ...pidsMatching((c, comm) => comm === 'containerd' && c.includes(d.dir))];
  const monitorPids = () => pidsMatching((c, comm) => comm.startsWith('containerd-shim') && c.includes(ns));
  return { name: `docker ${await dockerServerVersion(d.cli)}`, cli: d.cli, runFlags: ['--network', 'none'], daemonPids, monitorPids, stop: d.stop };
}

async function podmanSystem(tmp: string, rootfsTar: string, install: boolean): Promise<System | undefined> {
  if (!has('podman') && install) {
    console.error('bench: installing podman (apt-get) ...');
    await run('apt-get', ['install', '-y', '-q', 'podman'], { quiet: true, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (!has('podman')) return undefined;
  const dir = path.join(tmp, 'podman');
  // runc: crun refuses a hybrid cgroup layout; cgroupfs: no systemd here.
  const cli = ['podman', '--root', `${dir}/root`, '--runroot', `${dir}/run`, '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const imported = await run(cli[0], [...cli.slice(1), 'import', '--change', 'CMD ["sh"]', rootfsTar, 'busybox:latest']);
  if (imported.code !== 0) {
    console.error(`bench: podman import failed; podman is left out: ${imported.stderr.trim()}`);
    return undefined;
  }
  const monitorPids = () => pidsMatching((c, comm) => comm === 'conmon' && c.includes(dir) && !c.includes(' --exec '));
  return {
    // podman sets nofile and nproc past what runc may set here without CAP_SYS_RESOURCE.
    // podman's rm -f stops with a 10 s grace first; docker's and Berth's kill at once.
    rmFlags: ['--time', '0'],
    name: `podman ${toolVersion('podman')}`, cli, runFlags: ['--network', 'none', '--ulimit', `nofile=${hardLimit('n')}`, '--ulimit', 'nproc=4096:4096'], daemonPids: () => [], monitorPids,
    stop: async () => {
      await run(cli[0], [...cli.slice(1), 'rm', '-af']);
      await run(cli[0], [...cli.slice(1), 'system', 'reset', '-f']);
      for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The hard limit `ulimit -H<flag>` reports, as podman's --ulimit value. */
function hardLimit(flag: string): string {
  const v = spawnSync('bash', ['-c', `ulimit -H${flag}`]).stdout.toString().trim();
  return v === 'unlimited' ? '-1:-1' : `${v}:${v}`;
}

/** The floor: raw runc on a prepared bundle, no monitor, no daemon. */
async function floorBundle(tmp: string, rootfsTar: string): Promise<{ bundle: string; root: string }> {
  const bundle = path.join(tmp, 'floor');
  const root = path.join(tmp, 'floor-state');
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  await must('tar', ['-xf', rootfsTar, '-C', path.join(bundle, 'rootfs')]);
  await must('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.root.readonly = true;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  return { bundle, root };
}

function setFloorArgs(bundle: string, args: string[]): void {
  const file = path.join(bundle, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.process.args = args;
  fs.writeFileSync(file, JSON.stringify(spec));
}

// ---- the measurements ------------------------------------------------------------

type Row = Record<string, string>;

async function runTrue(s: System): Promise<number> {
  return (await must(s.cli[0], [...s.cli.slice(1), 'run', '--rm', ...s.runFlags, 'busybox', 'true'])).ms;
}

interface Parallel {
  start: number[];
  rm: number[];
  monitorKiB: number[];
}

/** n parallel `run -d`, then their `rm -f`, timed, into `into`. */
async function parallelOnce(s: System, n: number, into: Parallel): Promise<void> {
  const t0 = performance.now();
  const started = await Promise.all(Array.from({ length: n }, () => must(s.cli[0], [...s.cli.slice(1), 'run', '-d', ...s.runFlags, 'busybox', 'sleep', '1000'])));
  into.start.push(performance.now() - t0);
  const monitors = s.monitorPids();
  if (monitors.length >= n) into.monitorKiB.push(monitors.reduce((sum, p) => sum + rssKiB(p), 0) / monitors.length);
  const ids = started.map((x) => x.stdout.trim());
  const t1 = performance.now();
  await Promise.all(ids.map((id) => must(s.cli[0], [...s.cli.slice(1), 'rm', '-f', ...(s.rmFlags ?? []), id])));
  into.rm.push(performance.now() - t1);
}

/** CPU seconds (user + system, all threads) of processes, from /proc. */
function cpuSeconds(pids: number[]): number {
  const hz = 100; // USER_HZ on Linux
  return pids.reduce((sum, p) => {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      return sum + (Number(f[11]) + Number(f[12])) / hz;
    } catch {
      return sum;
    }
  }, 0);
}

/**
 * n containers probed every second (`--health-cmd true`) for `seconds`: the
 * daemon's CPU (share of one core), its RSS growth from the first to the
 * last reading, and the probes done (exec_die events, which docker and Berth
 * both send per probe).
 */
async function measureHealth(s: System, n: number, seconds: number): Promise<{ cpuPct: number; hostPct: number; growthKiB: number; probesPerS: number; helperKiB: number }> {
  const cli = (args: string[]) => must(s.cli[0], [...s.cli.slice(1), ...args]);
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => cli(['run', '-d', ...s.runFlags, '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '100000'])));
      ids.push(...batch.map((b) => b.stdout.trim()));
    }
    await sleep(10_000); // every container past its first probe
    // Counted live: a daemon keeps only the last events for replay.
    let probes = 0;
    const watcher = spawn(s.cli[0], [...s.cli.slice(1), 'events', '--filter', 'event=exec_die', '--format', '{{.ID}}'], { stdio: ['ignore', 'pipe', 'ignore'] });
    watcher.stdout.on('data', (d: Buffer) => (probes += d.toString().split('\n').length - 1));
    await sleep(1000);
    const rss0 = s.daemonPids().reduce((sum, p) => sum + rssKiB(p), 0);
    const cpu0 = cpuSeconds(s.daemonPids());
    const host0 = hostCpuSeconds();
    const t0 = Date.now();
    probes = 0;
    await sleep(seconds * 1000);
    const done = probes;
    const t1 = Date.now();
    const cpuPct = ((cpuSeconds(s.daemonPids()) - cpu0) / ((t1 - t0) / 1000)) * 100;
    const hostPct = ((hostCpuSeconds() - host0) / ((t1 - t0) / 1000)) * 100;
    const rss1 = s.daemonPids().reduce((sum, p) => sum + rssKiB(p), 0);
    const helperKiB = (s.probeHelperPids?.() ?? []).reduce((sum, p) => sum + pssKiB(p), 0) / n;
    watcher.kill();
    return { cpuPct, hostPct, growthKiB: rss1 - rss0, probesPerS: done / ((t1 - t0) / 1000), helperKiB };
  } finally {
    for (let i = 0; i < ids.length; i += 25) await run(s.cli[0], [...s.cli.slice(1), 'rm', '-f', ...ids.slice(i, i + 25)], { quiet: true });
  }
}

/** A flood's throughput as the client received it (bytes read from its stdout), and the daemon's RSS growth. */
async function measureFlood(s: System, mib: number): Promise<{ mibPerS: number; receivedMiB: number; growthKiB: number } | undefined> {
  const script = `yes ${'x'.repeat(99)} | head -c ${mib * 1024 * 1024}`;
  // Without a daemon (podman), the growth to watch is the monitors'.
  const { result, growthKiB } = await rssGrowthDuring(s.daemonPids().length ? s.daemonPids : s.monitorPids, () =>
    run(s.cli[0], [...s.cli.slice(1), 'run', '--rm', ...s.runFlags, 'busybox', 'sh', '-c', script], { countOnly: true }),
  );
  if (result.code !== 0) {
    console.error(`bench: flood on ${s.name} failed: ${result.stderr.trim()}`);
    return undefined;
  }
  const receivedMiB = result.bytes / (1024 * 1024);
  return { mibPerS: receivedMiB / (result.ms / 1000), receivedMiB, growthKiB };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench/engine runs as root (containers, cgroups, mounts)');
  const want = (k: string) => !o.only || o.only.has(k);
  const tmp = fs.mkdtempSync('/tmp/berth-bench-');
  const rootfsTar = path.join(tmp, 'busybox.tar');
  await must(path.join(ROOT, 'scripts', 'busybox-rootfs'), [rootfsTar], { quiet: true });
  const stops: (() => Promise<void>)[] = [];
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      console.error(`bench: ${sig}: cleaning up`);
    });
  }
  const check = () => {
    if (interrupted) throw new Error('interrupted');
  };
  const columns: string[] = [];
  const rows: Record<string, Row> = {};
  const put = (row: string, col: string, v: string) => ((rows[row] ??= {})[col] = v);
  let floorRoot: string | undefined;
  try {
    const systems: System[] = [];
    if (want('berth') || want('docker-cli')) {
      const b = await berthSystem(tmp, rootfsTar);
      stops.push(b.berth.stop);
      if (want('berth')) systems.push(b.berth);
      if (want('docker-cli')) systems.push(b.dockerCli);
    }
    if (want('docker')) {
      const d = await dockerSystem(rootfsTar);
      if (d) {
        stops.push(d.stop);
        systems.push(d);
      }
    }
    if (want('podman')) {
      const p = await podmanSystem(tmp, rootfsTar, o.install);
      if (p) {
        stops.push(p.stop);
        systems.push(p);
      }
    }

    const R_RUN = '`run --rm busybox true`';
    const R_PAR = `${o.parallel} parallel \`run -d busybox sleep 1000\``;
    const R_RM = `\`rm -f\` of the ${o.parallel}`;
    const R_MON = 'monitor RSS per running container';
    const R_IDLE = 'daemon RSS, idle (started, busybox imported)';
    const R_FLOOD = `${o.floodMiB} MiB stdout flood: throughput the client received`;
    const R_GROW = `${o.floodMiB} MiB stdout flood: daemon RSS growth`;

    if (want('floor')) {
      const col = 'floor (runc run)';
      columns.push(col);
      const f = await floorBundle(tmp, rootfsTar);
      floorRoot = f.root;
      setFloorArgs(f.bundle, ['true']);
      const xs: number[] = [];
      for (let i = 0; i < o.reps; i++) xs.push((await must('runc', ['--root', f.root, 'run', '--bundle', f.bundle, `floor-${i}`], { quiet: true })).ms);
      put(R_RUN, col, cell(xs, 'ms'));
      setFloorArgs(f.bundle, ['sleep', '1000']);
      const starts: number[] = [];
      const rms: number[] = [];
      for (let r = 0; r < Math.min(3, o.reps); r++) {
        const ids = Array.from({ length: o.parallel }, (_, i) => `floor-p${r}-${i}`);
        const t0 = performance.now();
        await Promise.all(ids.map((id) => must('runc', ['--root', f.root, 'run', '--detach', '--bundle', f.bundle, id], { silent: true })));
        starts.push(performance.now() - t0);
        const t1 = performance.now();
        await Promise.all(ids.map((id) => must('runc', ['--root', f.root, 'delete', '--force', id], { quiet: true })));
        rms.push(performance.now() - t1);
      }
      put(R_PAR, col, cell(starts.map((x) => x / 1000), 's', 2));
      put(R_RM, col, cell(rms.map((x) => x / 1000), 's', 2));
      put(R_MON, col, 'none');
      put(R_IDLE, col, 'none');
    }

    // Idle first, before any system has run a container.
    for (const s of systems) {
      columns.push(s.name);
      const idle = s.daemonPids().reduce((sum, p) => sum + rssKiB(p), 0);
      put(R_IDLE, s.name, s.name === 'Berth (docker CLI)' ? 'same daemon' : idle ? `${(idle / 1024).toFixed(0)} MB` : 'no daemon');
    }
    // Each repetition runs every system, the order turned by one each time: none always goes first (or last).
    const turn = (r: number) => systems.map((_, i) => systems[(i + r) % systems.length]);
    const runs = new Map(systems.map((s) => [s, [] as number[]]));
    console.error('bench: run --rm ...');
    for (let r = 0; r < o.reps; r++) {
      for (const s of turn(r)) {
        check();
        runs.get(s)!.push(await runTrue(s));
      }
    }
    const par = new Map(systems.map((s) => [s, { start: [], rm: [], monitorKiB: [] } as Parallel]));
    console.error(`bench: ${o.parallel} parallel runs and their rm -f ...`);
    for (let r = 0; r < Math.min(3, o.reps); r++) {
      for (const s of turn(r)) {
        check();
        await parallelOnce(s, o.parallel, par.get(s)!);
      }
    }
    for (const s of systems) {
      put(R_RUN, s.name, cell(runs.get(s)!, 'ms'));
      const p = par.get(s)!;
      put(R_PAR, s.name, cell(p.start.map((x) => x / 1000), 's', 2));
      put(R_RM, s.name, cell(p.rm.map((x) => x / 1000), 's', 2));
      put(R_MON, s.name, cell(p.monitorKiB.map((x) => x / 1024), 'MB', 1));
    }
    // One flood per daemon: the docker CLI column shares Berth's daemon.
    for (const s of systems) {
      if (s.name === 'Berth (docker CLI)') continue;
      check();
      console.error(`bench: flood through ${s.name} ...`);
      const fl = await measureFlood(s, o.floodMiB);
      const short = fl && fl.receivedMiB < o.floodMiB ? ` (received ${fl.receivedMiB.toFixed(0)} of ${o.floodMiB} MiB)` : '';
      put(R_FLOOD, s.name, fl ? `${fl.mibPerS.toFixed(0)} MiB/s${short}` : 'failed');
      put(R_GROW, s.name, fl ? `${(fl.growthKiB / 1024).toFixed(1)} MB${s.daemonPids().length ? '' : ' (monitor)'}` : 'failed');
    }

    // Health checks: one daemon at a time (their probes would share the CPUs), podman has none (systemd timers).
    // Berth twice: with its probe agents (the default), and with an exec session per probe as dockerd.
    const R_HCPU = `${o.health} containers probed every second: daemon CPU (one core = 100%)`;
    const R_HHOST = `${o.health} containers probed every second: host CPU, all processes (${os.cpus().length} cores = ${os.cpus().length * 100}%)`;
    const R_HRATE = `${o.health} containers probed every second: probes done per second`;
    const R_HMEM = `${o.health} containers probed every second: memory kept per container for probing (PSS)`;
    const R_HGROW = `${o.health} containers probed every second: daemon RSS growth over ${o.healthSeconds} s`;
    const healthSystems = o.health > 0 ? systems.filter((s) => s.name !== 'Berth (docker CLI)') : [];
    if (o.health > 0 && want('berth-exec')) {
      const e = await berthSystem(tmp, rootfsTar, 'x', ['--health-probes', 'exec']);
      stops.push(e.berth.stop);
      healthSystems.splice(healthSystems.findIndex((x) => x.name === 'Berth (berth CLI)') + 1, 0, e.berth);
      columns.splice(columns.indexOf('Berth (berth CLI)') + 1, 0, e.berth.name);
    }
    for (const s of healthSystems) {
      if (!s.daemonPids().length) {
        for (const r of [R_HCPU, R_HHOST, R_HRATE, R_HMEM, R_HGROW]) put(r, s.name, 'no daemon');
        continue;
      }
      check();
      console.error(`bench: ${o.health} probed containers on ${s.name} for ${o.healthSeconds} s ...`);
      const h = await measureHealth(s, o.health, o.healthSeconds);
      put(R_HCPU, s.name, `${h.cpuPct.toFixed(1)}%`);
      put(R_HHOST, s.name, `${h.hostPct.toFixed(0)}%`);
      put(R_HRATE, s.name, h.probesPerS.toFixed(1));
      put(R_HMEM, s.name, h.helperKiB > 0 ? `${(h.helperKiB / 1024).toFixed(2)} MB` : s.probeHelperPids ? '0 (a conmon per probe)' : '0 (a shim exec per probe)');
      put(R_HGROW, s.name, `${(h.growthKiB / 1024).toFixed(1)} MB`);
    }

    console.log(table(columns, rows, `${o.reps} reps of each timing (3 of the parallel ones), the systems taking turns to go first; median (min-max).`));
  } finally {
    if (floorRoot) for (const id of (await run('runc', ['--root', floorRoot, 'list', '-q'])).stdout.split('\n').filter(Boolean)) await run('runc', ['--root', floorRoot, 'delete', '-f', id]);
    for (const stop of stops.reverse()) await stop().catch((e) => console.error(`bench: cleanup: ${e}`));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench/engine: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
