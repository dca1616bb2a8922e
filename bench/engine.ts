/**
 * bench/engine: Berth's engine side by side with the floor (raw `runc run` of
 * a prepared bundle), docker (docker.io) and podman, measured in one run on
 * this machine. Prints one markdown table; each cell is the median and, in
 * brackets, the spread (min-max) of the repetitions.
 *
 *   bench/engine [--reps N] [--parallel N] [--flood-mib N] [--no-install] [--only floor,berth,docker-cli,docker,podman]
 *
 * Every system runs the same busybox root filesystem (made by
 * scripts/busybox-rootfs) with no network (`--network none`: Berth has no
 * bridge yet). Each gets its own data root under a temporary folder, removed
 * at the end; docker and podman are started (podman installed) when missing.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupDirs, mountsUnder, processes } from '../test/host';

const ROOT = path.join(__dirname, '..', '..');
const BERTH = path.join(ROOT, 'bin', 'berth');

interface Options {
  reps: number;
  parallel: number;
  floodMiB: number;
  install: boolean;
  only?: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { reps: 10, parallel: 50, floodMiB: 1024, install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--reps') o.reps = Number(next());
    else if (a === '--parallel') o.parallel = Number(next());
    else if (a === '--flood-mib') o.floodMiB = Number(next());
    else if (a === '--no-install') o.install = false;
    else if (a === '--only') o.only = new Set(next().split(','));
    else throw new Error(`unknown flag ${a}`);
  }
  return o;
}

// ---- processes and numbers ----------------------------------------------------

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** stdout is not wanted. */
  quiet?: boolean;
  /** No pipes at all, for commands whose children inherit stdio (`runc run --detach`). */
  silent?: boolean;
}

function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const stdio = o.silent ? 'ignore' : (['ignore', o.quiet ? 'ignore' : 'pipe', 'pipe'] as const);
    const child = spawn(cmd, args, { env: { ...process.env, ...o.env }, stdio: stdio as 'ignore' });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => {
      if (stderr.length < 8192) stderr += d;
    });
    child.on(o.silent ? 'exit' : 'close', (code) => resolve({ code: code ?? 1, stdout, stderr, ms: performance.now() - t0 }));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: String(e), ms: performance.now() - t0 }));
  });
}

async function must(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "median (min-max) unit" */
function cell(xs: number[], unit: string, digits = 0): string {
  if (!xs.length) return 'n/a';
  const f = (x: number) => x.toFixed(digits);
  if (xs.length === 1) return `${f(xs[0])} ${unit}`;
  return `${f(median(xs))} ${unit} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Processes whose command line matches. */
function pidsMatching(test: (cmdline: string, comm: string) => boolean): number[] {
  return processes().filter((p) => test(p.cmdline, p.comm)).map((p) => p.pid);
}

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
  stop(): Promise<void>;
}

async function berthSystem(tmp: string, rootfsTar: string): Promise<{ berth: System; dockerCli: System }> {
  const dir = path.join(tmp, 'berth');
  const sock = path.join(dir, 'berth.sock');
  const execRoot = path.join(dir, 'exec');
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  const daemon = spawn(BERTH, ['daemon', '--data-root', path.join(dir, 'data'), '--exec-root', execRoot, '-H', `unix://${sock}`, '--cgroup-parent', `/berth-bench-${process.pid}`], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(25);
  await must(BERTH, ['-H', `unix://${sock}`, 'import', '--change', 'CMD ["sh"]', rootfsTar, 'busybox:latest'], { quiet: true });
  await sleep(1000); // settle before the idle reading
  const daemonPids = () => (daemon.pid ? [daemon.pid] : []);
  const monitorPids = () => pidsMatching((c, comm) => comm === 'conmon' && c.includes(execRoot) && !c.includes(' --exec '));
  const stop = async () => {
    const ids = (await run(BERTH, ['-H', `unix://${sock}`, 'ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await run(BERTH, ['-H', `unix://${sock}`, 'rm', '-f', ...ids]);
    await stopProcess(daemon);
    for (const c of cgroupDirs(`/berth-bench-${process.pid}`).reverse()) spawnSync('rmdir', [c]);
  };
  return {
    berth: { name: 'Berth (berth CLI)', cli: [BERTH, '-H', `unix://${sock}`], runFlags: [], daemonPids, monitorPids, stop },
    dockerCli: { name: 'Berth (docker CLI)', cli: ['docker', '-H', `unix://${sock}`], runFlags: [], daemonPids, monitorPids, stop: async () => {} },
  };
}

async function dockerSystem(tmp: string, rootfsTar: string): Promise<System | undefined> {
  if (!has('dockerd') || !has('docker')) return undefined;
  // Short paths: dockerd's sockets live under its exec root.
  const dir = fs.mkdtempSync('/tmp/bbd-');
  const sock = `unix://${dir}/sock`;
  const ns = path.basename(dir);
  const daemon = spawn('dockerd', ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '-H', sock, '--pidfile', `${dir}/pid`,
    '--iptables=false', '--ip-masq=false', '--bridge=none', '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}p`], { stdio: 'ignore' });
  const cli = ['docker', '-H', sock];
  let up = false;
  for (let i = 0; i < 120 && !(up = (await run(cli[0], [...cli.slice(1), 'version'])).code === 0); i++) await sleep(250);
  if (!up) {
    await stopProcess(daemon);
    console.error('bench: dockerd did not start; docker is left out');
    return undefined;
  }
  await must(cli[0], [...cli.slice(1), 'import', '--change', 'CMD ["sh"]', rootfsTar, 'busybox:latest'], { quiet: true });
  await sleep(1000);
  // dockerd starts its own containerd, whose state lives under the exec root.
  const daemonPids = () => [daemon.pid!, ...pidsMatching((c, comm) => comm === 'containerd' && c.includes(dir))];
  const monitorPids = () => pidsMatching((c, comm) => comm.startsWith('containerd-shim') && c.includes(ns));
  return {
    name: 'docker 20.10', cli, runFlags: ['--network', 'none'], daemonPids, monitorPids,
    stop: async () => {
      const ids = (await run(cli[0], [...cli.slice(1), 'ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await run(cli[0], [...cli.slice(1), 'rm', '-f', ...ids]);
      await stopProcess(daemon);
      for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
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
    name: 'podman 4.3', cli, runFlags: ['--network', 'none', '--ulimit', `nofile=${hardLimit('n')}`, '--ulimit', 'nproc=4096:4096'], daemonPids: () => [], monitorPids,
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

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([done, sleep(20_000)]);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

// ---- the measurements ------------------------------------------------------------

type Row = Record<string, string>;

async function measureRunTrue(s: System, reps: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) xs.push((await must(s.cli[0], [...s.cli.slice(1), 'run', '--rm', ...s.runFlags, 'busybox', 'true'])).ms);
  return xs;
}

async function measureParallel(s: System, n: number, reps: number): Promise<{ start: number[]; rm: number[]; monitorKiB: number[] }> {
  const start: number[] = [];
  const rm: number[] = [];
  const monitorKiB: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const started = await Promise.all(Array.from({ length: n }, () => must(s.cli[0], [...s.cli.slice(1), 'run', '-d', ...s.runFlags, 'busybox', 'sleep', '1000'])));
    start.push(performance.now() - t0);
    const monitors = s.monitorPids();
    if (monitors.length >= n) monitorKiB.push(monitors.reduce((sum, p) => sum + rssKiB(p), 0) / monitors.length);
    const ids = started.map((x) => x.stdout.trim());
    const t1 = performance.now();
    await Promise.all(ids.map((id) => must(s.cli[0], [...s.cli.slice(1), 'rm', '-f', ...(s.rmFlags ?? []), id])));
    rm.push(performance.now() - t1);
  }
  return { start, rm, monitorKiB };
}

async function measureFlood(s: System, mib: number): Promise<{ mibPerS: number; growthKiB: number } | undefined> {
  const script = `yes ${'x'.repeat(99)} | head -c ${mib * 1024 * 1024}`;
  // Without a daemon (podman), the growth to watch is the monitors'.
  const { result, growthKiB } = await rssGrowthDuring(s.daemonPids().length ? s.daemonPids : s.monitorPids, () =>
    run(s.cli[0], [...s.cli.slice(1), 'run', '--rm', ...s.runFlags, 'busybox', 'sh', '-c', script], { quiet: true }),
  );
  if (result.code !== 0) {
    console.error(`bench: flood on ${s.name} failed: ${result.stderr.trim()}`);
    return undefined;
  }
  return { mibPerS: mib / (result.ms / 1000), growthKiB };
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
      const d = await dockerSystem(tmp, rootfsTar);
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
    const R_FLOOD = `${o.floodMiB} MiB stdout flood: throughput`;
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

    for (const s of systems) {
      check();
      columns.push(s.name);
      console.error(`bench: ${s.name} ...`);
      const idle = s.daemonPids().reduce((sum, p) => sum + rssKiB(p), 0);
      put(R_IDLE, s.name, s.name === 'Berth (docker CLI)' ? 'same daemon' : idle ? `${(idle / 1024).toFixed(0)} MB` : 'no daemon');
      put(R_RUN, s.name, cell(await measureRunTrue(s, o.reps), 'ms'));
      const par = await measureParallel(s, o.parallel, Math.min(3, o.reps));
      put(R_PAR, s.name, cell(par.start.map((x) => x / 1000), 's', 2));
      put(R_RM, s.name, cell(par.rm.map((x) => x / 1000), 's', 2));
      put(R_MON, s.name, cell(par.monitorKiB.map((x) => x / 1024), 'MB', 1));
      // One flood per daemon: the docker CLI column shares Berth's daemon.
      if (s.name !== 'Berth (docker CLI)') {
        const fl = await measureFlood(s, o.floodMiB);
        put(R_FLOOD, s.name, fl ? `${fl.mibPerS.toFixed(0)} MiB/s` : 'failed');
        put(R_GROW, s.name, fl ? `${(fl.growthKiB / 1024).toFixed(1)} MB${s.daemonPids().length ? '' : ' (monitor)'}` : 'failed');
      }
    }

    const header = ['', ...columns];
    const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
    for (const [name, r] of Object.entries(rows)) lines.push(`| ${[name, ...columns.map((c) => r[c] ?? '')].join(' | ')} |`);
    console.log(lines.join('\n'));
    console.log(`\n${new Date().toISOString().slice(0, 10)}, ${spawnSync('nproc').stdout.toString().trim()} cores, kernel ${spawnSync('uname', ['-r']).stdout.toString().trim()}; ${o.reps} reps of each timing (3 of the parallel ones); median (min-max).`);
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
