import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BerthError, conflict, errorMessage, invalidArgument, notFound } from '../base/errors';
import { run } from '../base/exec';
import { atomicWriteJson, readJsonIfExists } from '../base/files';
import { hostProcesses, mountPoints, processAlive } from '../base/procs';
import { ApiClient } from '../client/client';
import { formatIp, parseIp, pickFree, type Prefix, routePrefixes } from '../network/subnet';

/** Where labs live: one folder each (nodes' roots, sockets, logs, the lab's record). */
export const LAB_ROOT = '/var/lib/berth-lab';

export interface LabNode {
  /** NAME-nodeK: its network namespace's name and its name in the cluster. */
  name: string;
  role: 'manager' | 'worker';
  netns: string;
  /** The host side of its link to the lab's bridge (down: cut off). */
  link: string;
  ip: string;
  /** Its daemon's roots, socket and log live here. */
  dir: string;
  socket: string;
  cgroupParent: string;
  pid?: number;
}

export interface LabRecord {
  name: string;
  bridge: string;
  /** The lab's /24, its first address the bridge's. */
  subnet: string;
  nodes: LabNode[];
}

const NAME = /^[a-z][a-z0-9-]{0,15}$/;

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/** /24s of 10.199.0.0/16 for labs, the first free of this host's routes. */
function* labPool(): Generator<Prefix> {
  for (let i = 0; i < 256; i++) yield { base: parseIp(`10.199.${i}.0`), bits: 24 };
}

/**
 * A cluster lab on this host, as kind or k3d for Kubernetes: N Berth
 * daemons, each in a network namespace of its own (NAME-nodeK) on a
 * bridge of the lab's, each with its own roots, socket and cgroup parent,
 * joined into one cluster (the first M managers, each with an etcd
 * member). A node is killed as a crash (its link down, its daemon, conmons
 * and containers SIGKILLed), cut off and healed; `down` leaves nothing.
 */
export class Labs {
  constructor(
    private readonly root = LAB_ROOT,
    /** The berth executable the nodes' daemons run. */
    private readonly berth = path.resolve(__dirname, '..', '..', '..', 'bin', 'berth'),
  ) {}

  private file(name: string): string {
    return path.join(this.root, name, 'lab.json');
  }

  async get(name: string): Promise<LabRecord> {
    const rec = await readJsonIfExists<LabRecord>(this.file(name));
    if (!rec) throw notFound(`no lab named ${name}`);
    for (const n of rec.nodes) if (n.pid !== undefined && !processAlive(n.pid)) delete n.pid;
    return rec;
  }

  list(): string[] {
    if (!fs.existsSync(this.root)) return [];
    return fs.readdirSync(this.root).filter((n) => fs.existsSync(this.file(n))).sort();
  }

  private save(rec: LabRecord): Promise<void> {
    return atomicWriteJson(this.file(rec.name), rec);
  }

  /** Makes the lab, starts its daemons, loads the images into each, and forms the cluster. On failure, nothing stays. */
  async up(o: { name: string; nodes: number; managers: number; load: string[] }): Promise<LabRecord> {
    if (!NAME.test(o.name)) throw invalidArgument(`invalid lab name ${JSON.stringify(o.name)}: a lowercase letter, then up to 15 lowercase letters, digits or dashes`);
    if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 32) throw invalidArgument(`--nodes: from 1 to 32, not ${o.nodes}`);
    if (!Number.isInteger(o.managers) || o.managers < 1 || o.managers > o.nodes) throw invalidArgument(`--managers: from 1 to the number of nodes (${o.nodes}), not ${o.managers}`);
    for (const f of o.load) if (!fs.existsSync(f)) throw invalidArgument(`--load: no such file ${f}`);
    if (fs.existsSync(path.join(this.root, o.name))) throw conflict(`a lab named ${o.name} exists: berth lab down ${o.name} first`);
    const taken = routePrefixes((await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout);
    const subnet = pickFree(taken, labPool());
    if (!subnet) throw conflict('no /24 of 10.199.0.0/16 is free of this host\'s routes for a lab');
    const tag = createHash('sha256').update(o.name).digest('hex').slice(0, 6);
    const net = formatIp(subnet.base).split('.').slice(0, 3).join('.');
    const rec: LabRecord = { name: o.name, bridge: `bl${tag}`, subnet: `${net}.0/24`, nodes: [] };
    for (let k = 1; k <= o.nodes; k++) {
      const dir = path.join(this.root, o.name, `node${k}`);
      rec.nodes.push({
        name: `${o.name}-node${k}`, role: k <= o.managers ? 'manager' : 'worker', netns: `${o.name}-node${k}`, link: `bl${tag}n${k}`, ip: `${net}.${10 + k}`,
        dir, socket: path.join(dir, 'berth.sock'), cgroupParent: `/berth-lab-${o.name}-node${k}`,
      });
    }
    fs.mkdirSync(path.join(this.root, o.name), { recursive: true, mode: 0o700 });
    await this.save(rec);
    try {
      await ip('link', 'add', rec.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${net}.1/24`, 'dev', rec.bridge);
      await ip('link', 'set', rec.bridge, 'up');
      for (const n of rec.nodes) {
        await ip('netns', 'add', n.netns);
        await ip('link', 'add', n.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns);
        await ip('link', 'set', n.link, 'master', rec.bridge, 'up');
        await ip('-n', n.netns, 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0');
        await ip('-n', n.netns, 'link', 'set', 'eth0', 'up');
        await ip('-n', n.netns, 'link', 'set', 'lo', 'up');
        await ip('-n', n.netns, 'route', 'add', 'default', 'via', `${net}.1`);
      }
      await Promise.all(rec.nodes.map((n) => this.startDaemon(n)));
      await this.save(rec);
      for (const f of o.load) await Promise.all(rec.nodes.map((n) => loadImages(n, f)));
      await formCluster(rec);
      return rec;
    } catch (e) {
      // What was made goes; the first error is the one to report, with the way out if the cleanup failed too.
      const left = await this.down(o.name).then(() => undefined, (d: unknown) => errorMessage(d));
      if (left !== undefined) throw new BerthError(e instanceof BerthError ? e.code : 'internal', `${errorMessage(e)} (and removing what was made failed: ${left}; try berth lab down ${o.name})`, { cause: e });
      throw e;
    }
  }

  /** Starts a node's daemon in its namespace and waits for its API. */
  private async startDaemon(n: LabNode): Promise<void> {
    fs.mkdirSync(n.dir, { recursive: true, mode: 0o700 });
    const log = fs.openSync(path.join(n.dir, 'daemon.log'), 'a');
    const argv = [
      'daemon', '--data-root', path.join(n.dir, 'data'), '--exec-root', path.join(n.dir, 'exec'), '-H', `unix://${n.socket}`,
      '--cgroup-parent', n.cgroupParent, '--node-name', n.name, '--proc-view', 'host',
    ];
    // nsenter --net: only the network namespace is the node's; mounts and cgroups are the host's, as on a machine of its own.
    const p = spawn('nsenter', [`--net=/run/netns/${n.netns}`, this.berth, ...argv], { detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    p.unref();
    n.pid = p.pid;
    const api = new ApiClient(n.socket);
    const until = Date.now() + 30_000;
    for (;;) {
      if (await api.call('GET', '/_ping').then(() => true, () => false)) return;
      if (!processAlive(p.pid!) || Date.now() > until) throw new Error(`the daemon of ${n.name} did not start: see ${path.join(n.dir, 'daemon.log')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private node(rec: LabRecord, ref: string): LabNode {
    const n = rec.nodes.find((x) => x.name === ref || x.name === `${rec.name}-${ref}`);
    if (!n) throw notFound(`lab ${rec.name} has no node ${ref} (${rec.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** A crash: the node cut off, its daemon, conmons and containers SIGKILLed (its etcd member dies with its daemon). */
  async kill(name: string, ref: string): Promise<void> {
    const rec = await this.get(name);
    const n = this.node(rec, ref);
    await ip('link', 'set', n.link, 'down');
    killNode(n);
    delete n.pid;
    await this.save(rec);
  }

  /** A node killed (or whose daemon stopped) starts again, its link up. */
  async start(name: string, ref: string): Promise<void> {
    const rec = await this.get(name);
    const n = this.node(rec, ref);
    if (n.pid !== undefined) throw conflict(`${n.name} runs already`);
    await ip('link', 'set', n.link, 'up');
    await this.startDaemon(n);
    await this.save(rec);
  }

  /** Cuts a node's link (partition) or restores it (heal). */
  async cut(name: string, ref: string, off: boolean): Promise<void> {
    const rec = await this.get(name);
    await ip('link', 'set', this.node(rec, ref).link, off ? 'down' : 'up');
  }

  /** Whether a node's link is up. */
  async linkUp(n: LabNode): Promise<boolean> {
    const r = await run('ip', ['-o', 'link', 'show', n.link]).catch(() => undefined); // no such link: not up
    return !!r && /[<,]UP[,>]/.test(r.stdout);
  }

  /** Removes everything of the lab: daemons, conmons, containers, mounts, cgroups, namespaces, links, its folder. */
  async down(name: string): Promise<void> {
    const rec = await readJsonIfExists<LabRecord>(this.file(name));
    if (!rec) throw notFound(`no lab named ${name}`);
    for (const n of rec.nodes) {
      if (n.pid !== undefined && processAlive(n.pid)) {
        process.kill(n.pid, 'SIGTERM');
        const until = Date.now() + 15_000;
        while (processAlive(n.pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      }
      killNode(n);
    }
    await new Promise((r) => setTimeout(r, 300));
    const dir = path.join(this.root, name);
    for (const m of mountPoints().filter((x) => x === dir || x.startsWith(`${dir}/`)).reverse()) await run('umount', ['-l', m]).catch(() => undefined); // gone with its parent already
    for (const n of rec.nodes) {
      for (const c of cgroupDirs(n.cgroupParent).reverse()) removeCgroup(c);
      await ip('netns', 'del', n.netns).catch(() => undefined); // never made (a failed up)
      await ip('link', 'del', n.link).catch(() => undefined); // went with the namespace
    }
    await ip('link', 'del', rec.bridge).catch(() => undefined); // never made (a failed up)
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Kills what a node runs: its daemon, its conmons (by its exec root) and every process in its cgroups. */
function killNode(n: LabNode): void {
  const pids = new Set<number>();
  if (n.pid !== undefined && processAlive(n.pid)) pids.add(n.pid);
  for (const p of hostProcesses()) if (p.argv.some((a) => a.startsWith(n.dir))) pids.add(p.pid);
  for (const c of cgroupDirs(n.cgroupParent)) {
    for (const line of readOr(path.join(c, 'cgroup.procs')).split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    // no such cgroup (any more)
    return '';
  }
}

/** The node's cgroup folders in every hierarchy, parents before children. */
function cgroupDirs(parent: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    out.push(d);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  for (const h of fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
    const d = path.join('/sys/fs/cgroup', h.name, parent);
    if (h.isDirectory() && fs.existsSync(d)) walk(d);
  }
  const unified = path.join('/sys/fs/cgroup', parent);
  if (fs.existsSync(unified) && !out.includes(unified)) walk(unified);
  return out;
}

function removeCgroup(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // busy for a moment after its last process: left for the host (empty, it costs nothing)
  }
}

/** Loads a docker-archive into a node's daemon. */
async function loadImages(n: LabNode, file: string): Promise<void> {
  const api = new ApiClient(n.socket);
  for await (const m of api.jsonLines<{ error?: string }>('POST', '/images/load', { query: { quiet: true }, stream: fs.createReadStream(file) })) {
    if (m.error) throw new Error(`${n.name}: loading ${file}: ${m.error}`);
  }
}

/** swarm init on the first node, the other managers and the workers joined with their tokens. */
async function formCluster(rec: LabRecord): Promise<void> {
  const [first, ...rest] = rec.nodes;
  const api = new ApiClient(first.socket);
  await api.json('POST', '/swarm/init', { body: { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: first.ip } });
  const swarm = await api.json<{ JoinTokens: { Worker: string; Manager: string } }>('GET', '/swarm');
  const nodes = await api.json<{ ManagerStatus?: { Addr: string } }[]>('GET', '/nodes');
  const addr = nodes.find((x) => x.ManagerStatus)!.ManagerStatus!.Addr;
  for (const n of rest) {
    const token = n.role === 'manager' ? swarm.JoinTokens.Manager : swarm.JoinTokens.Worker;
    await new ApiClient(n.socket).call('POST', '/swarm/join', { body: { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: n.ip, RemoteAddrs: [addr], JoinToken: token } });
  }
}
