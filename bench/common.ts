/**
 * What the bench/ scripts share: running commands with timings, the median
 * (min-max) cells of their tables, and Berth's and docker's daemons started
 * on private data roots and removed again.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Limiter } from '../src/base/limiter';
import type { ApiClient } from '../src/client/client';
import { cgroupDirs, killLxcfsOf, mountsUnder, processes, removeBridgeAndRules } from '../test/host';

export const ROOT = path.join(__dirname, '..', '..');
export const BERTH = path.join(ROOT, 'bin', 'berth');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** Bytes of stdout received (with countOnly, the stdout itself is not kept). */
  bytes: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** stdout is not wanted. */
  quiet?: boolean;
  /** No pipes at all, for commands whose children inherit stdio (`runc run --detach`). */
  silent?: boolean;
  /** stdout is read and counted, not kept (a flood measured by what the client received). */
  countOnly?: boolean;
}

export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const stdio = o.silent ? 'ignore' : (['ignore', o.quiet ? 'ignore' : 'pipe', 'pipe'] as const);
    const child = spawn(cmd, args, { env: { ...process.env, ...o.env }, stdio: stdio as 'ignore' });
    let stdout = '';
    let stderr = '';
    let bytes = 0;
    child.stdout?.on('data', (d: Buffer) => {
      bytes += d.length;
      if (!o.countOnly) stdout += d;
    });
    // The end of stderr says why a command failed: the last 8 KiB are kept.
    child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-8192)));
    child.on(o.silent ? 'exit' : 'close', (code) => resolve({ code: code ?? 1, stdout, stderr, ms: performance.now() - t0, bytes }));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: String(e), ms: performance.now() - t0, bytes }));
  });
}

export async function must(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

/** A bench script's flags: `--name VALUE` for each of `values`, `--name` alone for each of `switches`; anything else is an error. */
export function benchFlags(argv: string[], values: Record<string, (v: string) => void>, switches: Record<string, () => void> = {}): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.replace(/^--/, '');
    if (a.startsWith('--') && switches[name]) {
      switches[name]();
      continue;
    }
    if (!a.startsWith('--') || !values[name]) throw new Error(`unknown flag ${a}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    values[name](v);
  }
}

/** A tool's version as it reports it (`podman --version` → "4.3.1"), for the tables' labels. */
export function toolVersion(cmd: string, args = ['--version']): string {
  const out = spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '';
  return /\d+\.\d+(\.\d+)?/.exec(out)?.[0] ?? '?';
}

/** The version of the engine behind a docker CLI (its server's, which may differ from the client's). */
export async function dockerServerVersion(cli: string[]): Promise<string> {
  return (await run(cli[0], [...cli.slice(1), 'version', '--format', '{{.Server.Version}}'])).stdout.trim() || '?';
}

/** A process's resident memory in KiB (0 when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A process's proportional share of memory (PSS) in KiB: shared pages counted once across processes (0 when it is gone). */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Processes whose command line matches. */
export function pidsMatching(test: (cmdline: string, comm: string) => boolean): number[] {
  return processes().filter((p) => test(p.cmdline, p.comm)).map((p) => p.pid);
}

/** `n` busybox containers (`sleep 100000`, `extra` in their create body) made and started through an engine's API, `parallel` at a time: their ids. */
export function startThroughApi(api: ApiClient, n: number, parallel: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const slots = new Limiter(parallel);
  return Promise.all(Array.from({ length: n }, () => slots.run(async () => {
    const { Id } = await api.json<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '100000'], ...extra } });
    await api.call('POST', `/containers/${Id}/start`);
    return Id;
  })));
}

/** Removes containers (forced) through an engine's API, `parallel` at a time. */
export async function removeThroughApi(api: ApiClient, ids: string[], parallel: number): Promise<void> {
  const slots = new Limiter(parallel);
  await Promise.all(ids.map((id) => slots.run(() => api.call('DELETE', `/containers/${id}`, { query: { force: true } }))));
}

export const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "median unit (min-max)" */
export function cell(xs: number[], unit: string, digits = 0): string {
  if (!xs.length) return 'n/a';
  const f = (x: number) => x.toFixed(digits);
  if (xs.length === 1) return `${f(xs[0])} ${unit}`;
  return `${f(median(xs))} ${unit} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
}

/** A markdown table of rows by column, and the line saying where and how it was measured. */
export function table(columns: string[], rows: Record<string, Record<string, string>>, how: string): string {
  const header = ['', ...columns];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const [name, r] of Object.entries(rows)) lines.push(`| ${[name, ...columns.map((c) => r[c] ?? '')].join(' | ')} |`);
  const nproc = spawnSync('nproc').stdout.toString().trim();
  const kernel = spawnSync('uname', ['-r']).stdout.toString().trim();
  return `${lines.join('\n')}\n\n${new Date().toISOString().slice(0, 10)}, ${nproc} cores, kernel ${kernel}; ${how}`;
}

export async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([done, sleep(20_000)]);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** A daemon of the benchmark's own: its CLI prefix, its process, and how to remove all it made. */
export interface Daemon {
  cli: string[];
  proc: ChildProcess;
  /** Folder of its state (data and exec roots under it). */
  dir: string;
  stop(): Promise<void>;
}

async function removeContainers(cli: string[]): Promise<void> {
  const ids = (await run(cli[0], [...cli.slice(1), 'ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await run(cli[0], [...cli.slice(1), 'rm', '-f', ...ids]);
}

/** A Berth daemon under dir, with a bridge, cgroup parent and socket named after tag, and busybox-like `image` imported from tar. */
export async function startBerth(dir: string, tag: string, tar: string, image: string, extra: string[] = []): Promise<Daemon> {
  fs.mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, 'berth.sock');
  const cgroupParent = `/berth-bench-${tag}`;
  const bridge = `bb${tag}`;
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  const proc = spawn(BERTH, ['daemon', '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '-H', `unix://${sock}`, '--cgroup-parent', cgroupParent, '--bridge', bridge, ...extra], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(25);
  const cli = [BERTH, '-H', `unix://${sock}`];
  const stop = async () => {
    await removeContainers(cli);
    await run(cli[0], [...cli.slice(1), 'network', 'prune', '-f']);
    await stopProcess(proc);
    killLxcfsOf(path.join(dir, 'exec'));
    removeBridgeAndRules(bridge);
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    for (const c of cgroupDirs(cgroupParent).reverse()) spawnSync('rmdir', [c]);
  };
  const imported = await run(cli[0], [...cli.slice(1), 'import', '--change', 'CMD ["sh"]', tar, image]);
  if (imported.code !== 0) {
    await stop();
    throw new Error(`Berth did not start or import: ${imported.stderr.trim()}\n${fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8').slice(-2000)}`);
  }
  return { cli, proc, dir, stop };
}

/**
 * A private dockerd (docker.io) with `args`, its own containerd namespace
 * under a short folder (its sockets live in the exec root), and `image`
 * imported; undefined when docker is not installed or does not start.
 */
export async function startDockerd(args: string[], tar: string, image: string): Promise<Daemon | undefined> {
  if (!has('dockerd') || !has('docker')) return undefined;
  const dir = fs.mkdtempSync('/tmp/bbd-');
  const ns = path.basename(dir);
  const proc = spawn('dockerd', ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '-H', `unix://${dir}/sock`, '--pidfile', `${dir}/pid`,
    '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}p`, ...args], { stdio: 'ignore' });
  const cli = ['docker', '-H', `unix://${dir}/sock`];
  const stop = async () => {
    await removeContainers(cli);
    // Networks a measurement left (its bridges outlive dockerd).
    await run(cli[0], [...cli.slice(1), 'network', 'prune', '-f']);
    await stopProcess(proc);
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let up = false;
  for (let i = 0; i < 120 && !(up = (await run(cli[0], [...cli.slice(1), 'version'])).code === 0); i++) await sleep(250);
  if (!up) {
    await stop();
    console.error('bench: dockerd did not start; docker is left out');
    return undefined;
  }
  await must(cli[0], [...cli.slice(1), 'import', '--change', 'CMD ["sh"]', tar, image], { quiet: true });
  return { cli, proc, dir, stop };
}
