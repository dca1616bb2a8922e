import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { isListening as listening } from '../../src/base/socket';
import { bridgePorts, bridgesWithAlias, cgroupDirs, dnsListenersOf, killLxcfsOf, linkAlias, linkExists, mountsUnder, processes, removeBridgeAndRules, rulesMentioning } from '../host';

export { bridgePorts, cgroupDirs, linkExists, mountsUnder, rulesMentioning };

const ROOT = path.resolve(__dirname, '../../..');
export const BERTH = path.join(ROOT, 'bin', 'berth');
/**
 * The docker CLI the tests mean: Debian's 20.10 (docker.io, from scripts/setup), by path, because
 * which docker comes first on PATH differs between machines (here a 28.x in /usr/local/bin).
 */
export const DOCKER = '/usr/bin/docker';

// Clients read their config from here, never the user's ~/.docker (its credsStore, psFormat or detachKeys would change what tests see).
const clientConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-it-docker-config-'));
fs.writeFileSync(path.join(clientConfig, 'config.json'), '{}\n'); // podman fails on a DOCKER_CONFIG without one
process.env.DOCKER_CONFIG = clientConfig;
process.on('exit', () => fs.rmSync(clientConfig, { recursive: true, force: true }));

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with optional stdin; never throws on a non-zero exit. */
export function exec(file: string, args: string[], o: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: { ...process.env, ...o.env }, timeout: o.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    // A program that exits without reading its input (tar -t) closes the pipe first: that is no error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(o.input ?? '');
  });
}

/** Runs a command line on a pseudo-terminal of its own (util-linux `script`), typing `input` into it. */
export function onTerminal(commandLine: string, input: string): Promise<Result> {
  return exec('script', ['-qec', commandLine, '/dev/null'], { input });
}

/**
 * Like onTerminal, but types each input once the program has shown what the
 * step waits for (a prompt, a line of output), as a person does: the program
 * has set its terminal raw by then (the pty would cook ctrl-q as XON).
 * Resolves when the program ends.
 */
export function typeOnTerminal(commandLine: string, steps: [waitFor: RegExp, input: string][], timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', commandLine, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // What the program showed since the last input: each step waits for its text in it.
    let shown = '';
    let step = 0;
    const typeWhenShown = () => {
      while (step < steps.length && steps[step][0].test(shown) && child.exitCode === null) {
        child.stdin.write(steps[step++][1]);
        shown = '';
      }
    };
    child.stdout.on('data', (c) => {
      stdout += c;
      shown += c;
      typeWhenShown();
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.stdin.on('error', () => {}); // the program may end before all is typed
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    typeWhenShown();
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? 137, stdout, stderr });
    });
  });
}

let rootfsTar: string | undefined;
/** The busybox root filesystem tar, made once per test process by the project's own script. */
export function busyboxTar(): string {
  if (!rootfsTar) {
    rootfsTar = path.join(os.tmpdir(), `berth-busybox-${process.pid}.tar`);
    const r = spawnSync(path.join(ROOT, 'scripts', 'busybox-rootfs'), [rootfsTar]);
    assert.equal(r.status, 0, String(r.stderr));
    process.on('exit', () => fs.rmSync(rootfsTar!, { force: true }));
  }
  return rootfsTar;
}

/** A daemon of its own: data root, exec root, socket and cgroup parent nobody else uses. */
export class TestDaemon {
  readonly tag = randomBytes(4).toString('hex');
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-it-'));
  readonly dataRoot = path.join(this.dir, 'data');
  readonly execRoot = path.join(this.dir, 'exec');
  readonly socket = path.join(this.dir, 'berth.sock');
  readonly cgroupParent = `/berth-it-${this.tag}`;
  /** The default bridge network's Linux bridge. */
  readonly bridge = `bt${this.tag}`;
  /** Its own certs.d, so that the host's /etc/berth/certs.d never changes a test. */
  readonly certsDir = path.join(this.dir, 'certs.d');
  private proc?: ChildProcess;
  log = '';
  /** Mounts the test made itself under its folder (a small tmpfs as the data root): no leak. */
  readonly ownMounts: string[] = [];
  /** A network namespace (under /run/netns) the daemon runs in, for multi-node labs; it enters only that namespace. */
  netns?: string;

  get host() {
    return `unix://${this.socket}`;
  }

  /** The daemon's process id, while it runs. */
  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  /** `waitMs`: how long it may take to listen (a crashed node of a loaded lab first restores a hundred containers). */
  async start(extra: string[] = [], waitMs = 10_000): Promise<void> {
    const argv = ['daemon', '--data-root', this.dataRoot, '--exec-root', this.execRoot, '-H', this.host, '--cgroup-parent', this.cgroupParent, '--bridge', this.bridge, '--certs-dir', this.certsDir, ...extra];
    // nsenter --net keeps this mount namespace (`ip netns exec` would mount a /sys without the cgroup hierarchies).
    this.proc = this.netns ? spawn('nsenter', [`--net=/run/netns/${this.netns}`, BERTH, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(BERTH, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
    for (const t0 = Date.now(); Date.now() - t0 < waitMs; ) {
      if (await listening(this.socket)) return;
      if (this.proc.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`daemon did not start:\n${this.log}`);
  }

  /** SIGKILL, as a crash. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    await done;
  }

  berth(args: string[], o: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
    return exec(BERTH, ['-H', this.host, ...args], o);
  }

  docker(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
    return exec(DOCKER, ['-H', this.host, ...args], { ...o, env: { DOCKER_CLI_HINTS: 'false' } });
  }

  /** berth, expecting success; returns trimmed stdout. */
  async ok(args: string[], o: { input?: string } = {}): Promise<string> {
    const r = await this.berth(args, o);
    assert.equal(r.code, 0, `berth ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  }

  async importBusybox(): Promise<void> {
    await this.ok(['import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']);
  }

  /** Removes every container, volume and user network, then asserts nothing of them is left on the host. */
  async assertClean(): Promise<void> {
    const ids = (await this.ok(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
    if (ids.length) await this.ok(['rm', '-f', '-v', ...ids]);
    const vols = (await this.ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean);
    if (vols.length) await this.ok(['volume', 'rm', ...vols]);
    const nets = JSON.parse(await this.ok(['network', 'inspect', ...(await this.ok(['network', 'ls', '-q', '--filter', 'type=custom'])).split('\n').filter(Boolean), 'bridge'])) as { Name: string; Id: string; Options: Record<string, string> }[];
    for (const n of nets) if (n.Name !== 'bridge') await this.ok(['network', 'rm', n.Id]);
    const out = leaks(this);
    if (this.netns) {
      // A lab node: its bridges and rules live in its namespace; what may stay there is loopback, its link and its default bridge.
      const links = (spawnSync('ip', ['-n', this.netns, '-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0]).filter(Boolean);
      for (const l of links) if (!['lo', 'eth0', this.bridge].includes(l)) out.push(`interface ${l} in ${this.netns}`);
      assert.deepEqual(out, [], 'resources leaked');
      return;
    }
    for (const n of nets) {
      const br = n.Options['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;
      for (const p of bridgePorts(br)) out.push(`interface ${p} on ${br}`);
      if (n.Name === 'bridge') continue;
      if (linkExists(br)) out.push(`bridge ${br}`);
      for (const r of rulesMentioning([br, n.Id])) out.push(`rule ${r}`);
    }
    // What networks removed earlier in the test may have left: bridges and rules with this daemon's mark, DNS listeners (the default bridge has none).
    const mark = linkAlias(this.bridge);
    if (!mark) out.push(`bridge ${this.bridge} without the daemon's mark`);
    for (const b of mark ? bridgesWithAlias(mark) : []) if (b !== this.bridge && !out.includes(`bridge ${b}`)) out.push(`bridge ${b}`);
    const defaults = rulesMentioning([this.bridge]);
    for (const r of mark ? rulesMentioning([mark]) : []) if (!defaults.includes(r) && !out.includes(`rule ${r}`)) out.push(`rule ${r}`);
    if (this.pid) for (const l of dnsListenersOf(this.pid)) out.push(`DNS listener ${l}`);
    assert.deepEqual(out, [], 'resources leaked');
  }

  async cleanup(): Promise<void> {
    try {
      const ids = (await this.berth(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.berth(['rm', '-f', ...ids]);
      await this.berth(['network', 'prune', '-f']);
    } catch {
      /* best effort */
    }
    await this.stop();
    // What a removal could not stop (a node killed mid-test whose containers it no longer knew): killed, so no test leaves processes behind.
    spawnSync('pkill', ['-KILL', '-f', `conmon .*${this.dir}/`]);
    for (const d of cgroupDirs(this.cgroupParent)) spawnSync('sh', ['-c', `kill -9 $(cat ${d}/cgroup.procs) 2>/dev/null; true`]);
    killLxcfsOf(this.execRoot);
    removeBridgeAndRules(this.bridge);
    for (const m of mountsUnder(this.dir).reverse()) spawnSync('umount', ['-l', m]);
    for (const d of cgroupDirs(this.cgroupParent).reverse()) spawnSync('rmdir', [d]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One Engine API request over the daemon's socket; the body parsed when it is JSON. */
export function api(d: Pick<TestDaemon, 'socket'>, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ socketPath: d.socket, method, path: urlPath, headers: data ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Entries (files, folders, links) under a folder: the inodes a data root holds. */
export function countEntries(dir: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      n++;
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return n;
}

/**
 * Runs a container whose pid 1 never reaps (`sleep`, or tini in front of it
 * with --init), makes `n` orphans in it, and returns how many zombies are left.
 * The orphan maker is itself orphaned, so every child ends up with pid 1.
 */
export async function zombiesAfterOrphans(d: TestDaemon, n: number, init: boolean): Promise<number> {
  // Each orphan outlives the shell that started it (else that shell may reap it first, on a busy host): it ends as pid 1's child.
  const maker = `( (i=0; while [ $i -lt ${n} ]; do sh -c "sleep 0.05 &"; i=$((i+1)); done; touch /done) & ); exec sleep 1000`;
  const id = await d.ok(['run', '-d', ...(init ? ['--init'] : []), 'busybox', 'sh', '-c', maker]);
  try {
    await eventually(async () => (await d.berth(['exec', id, 'test', '-f', '/done'])).code === 0, 300_000);
    // Settled when every orphan has ended (reaped, or a zombie): only pid 1 (with its sleep) and this ps still run.
    const settled = async () => {
      const rows = (await d.ok(['exec', id, 'ps', '-o', 'pid,stat,args'])).split('\n').slice(1).map((l) => l.trim().split(/\s+/));
      const running = rows.filter(([pid, stat, cmd, arg]) => pid !== '1' && !stat.startsWith('Z') && !(cmd === 'sleep' && arg === '1000') && cmd !== 'ps');
      return running.length ? undefined : rows.filter(([, stat]) => stat.startsWith('Z')).length;
    };
    let zombies = 0;
    await eventually(async () => {
      const n = await settled();
      if (n !== undefined) zombies = n;
      return n !== undefined;
    }, 60_000);
    return zombies;
  } finally {
    await d.ok(['rm', '-f', id]);
  }
}

/** Everything a daemon's containers could leave behind: mounts, cgroups, conmons, runtime state, bundles. */
export function leaks(d: TestDaemon): string[] {
  const out: string[] = [];
  for (const m of mountsUnder(d.dir)) if (!d.ownMounts.includes(m) && m !== path.join(d.execRoot, 'lxcfs', 'mnt')) out.push(`mount ${m}`);
  for (const c of cgroupDirs(d.cgroupParent)) if (!isParentDir(c, d.cgroupParent)) out.push(`cgroup ${c}`);
  for (const p of processesMentioning(d.execRoot)) out.push(`process ${p}`);
  for (const sub of ['containers', 'exits']) {
    const dir = path.join(d.execRoot, sub);
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) out.push(`${sub}/${f}`);
  }
  // A health check's folder goes with its container's run (exec sessions' stay a minute after they end, as docker's).
  const execs = path.join(d.execRoot, 'exec');
  for (const f of fs.existsSync(execs) ? fs.readdirSync(execs) : []) if (f.startsWith('probe-')) out.push(`exec/${f}`);
  const runcRoot = path.join(d.execRoot, 'runtime', 'runc');
  for (const f of fs.existsSync(runcRoot) ? fs.readdirSync(runcRoot) : []) out.push(`runc state ${f}`);
  for (const sub of ['netns', 'networks/endpoints']) {
    const dir = path.join(d.execRoot, sub);
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) out.push(`${sub}/${f}`);
  }
  const ipam = path.join(d.execRoot, 'networks', 'ipam');
  for (const n of fs.existsSync(ipam) ? fs.readdirSync(ipam) : []) {
    for (const f of fs.readdirSync(path.join(ipam, n))) if (/^\d+\.\d+\.\d+\.\d+$/.test(f)) out.push(`ip lease ${n}/${f}`);
  }
  const containers = path.join(d.dataRoot, 'containers');
  for (const f of fs.existsSync(containers) ? fs.readdirSync(containers) : []) out.push(`container dir ${f}`);
  return out;
}

function isParentDir(dir: string, parent: string): boolean {
  return dir.endsWith(parent);
}

export function processesMentioning(s: string): string[] {
  return processes()
    // The daemon and its lxcfs (which outlives a daemon restart by design) are not leaks of its containers.
    .filter((p) => p.cmdline.includes(s) && !p.cmdline.includes('berth daemon') && !p.cmdline.includes(' daemon --data-root') && !/(^|\/)lxcfs /.test(p.cmdline))
    .map((p) => `${p.pid} ${p.cmdline.slice(0, 120)}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** A daemon for the enclosing suite, started with busybox imported, cleaned up after it. */
export function suiteDaemon(): TestDaemon {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
    await d.importBusybox();
  });
  after(() => d.cleanup());
  return d;
}

/** Polls until fn returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/** A dockerd (docker.io) of its own: short folder (its sockets live in the exec root), no iptables, no bridge. */
export class PrivateDockerd {
  readonly dir = fs.mkdtempSync('/tmp/bdd-');
  private proc?: ChildProcess;

  get host() {
    return `unix://${this.dir}/sock`;
  }

  async start(): Promise<void> {
    const ns = path.basename(this.dir);
    this.proc = spawn('dockerd', ['--data-root', `${this.dir}/data`, '--exec-root', `${this.dir}/exec`, '-H', this.host, '--pidfile', `${this.dir}/pid`,
      '--iptables=false', '--ip-masq=false', '--bridge=none', '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}p`], { stdio: 'ignore' });
    for (let i = 0; i < 120 && (await exec(DOCKER, ['-H', this.host, 'version'])).code !== 0; i++) await sleep(250);
  }

  async cleanup(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    for (const m of mountsUnder(this.dir).reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A container's cgroup file for a controller: `v1` name in that hierarchy, `v2` name in the one. */
export function cgroupFile(parent: string, id: string, controller: string, v1: string, v2: string): string {
  const v2dir = path.join('/sys/fs/cgroup', parent, id);
  if (fs.existsSync(path.join('/sys/fs/cgroup', 'cgroup.controllers'))) return path.join(v2dir, v2);
  const dir = cgroupDirs(parent).find((x) => x.startsWith(path.join('/sys/fs/cgroup', controller)) && x.endsWith(id));
  assert.ok(dir, `cgroup of ${id} for ${controller}`);
  return path.join(dir, v1);
}

/**
 * A /16 of 10.0.0.0/8 that no route of this host touches (`10.231` where it is free), for tests
 * that name their own subnets: a host whose networks already use one must not fail them.
 */
export function freeTestPrefix(): string {
  const toInt = (ip: string) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  const routes = (spawnSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout ?? '').split('\n').flatMap((l) => {
    const m = /^(?:local |broadcast )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(l);
    return m && m[1] !== '0.0.0.0' ? [{ net: toInt(m[1]), len: Number(m[2] ?? 32) }] : [];
  });
  const overlaps = (a: number, alen: number, b: number, blen: number) => {
    const len = Math.min(alen, blen);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return ((a & mask) >>> 0) === ((b & mask) >>> 0);
  };
  for (let x = 231; x > 100; x--) {
    const base = toInt(`10.${x}.0.0`);
    if (!routes.some((r) => overlaps(r.net, r.len, base, 16))) return `10.${x}`;
  }
  throw new Error('no /16 of 10.0.0.0/8 is free of this host\'s routes');
}

/** dockerd is installed (Debian's docker.io): the side-by-side suites run. */
export const HAS_DOCKERD = spawnSync('sh', ['-c', 'command -v dockerd']).status === 0;

/** A private dockerd for the enclosing suite, with the same busybox image as suiteDaemon's, cleaned up after it. */
export function suiteDockerd(): PrivateDockerd {
  const dockerd = new PrivateDockerd();
  before(async () => {
    await dockerd.start();
    assert.equal((await exec(DOCKER, ['-H', dockerd.host, 'import', busyboxTar(), 'busybox:latest'])).code, 0);
  });
  after(() => dockerd.cleanup());
  return dockerd;
}
