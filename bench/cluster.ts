/**
 * bench/cluster: Berth's cluster beside docker's swarm mode, measured in one
 * run, each in a lab of its own on this host (nodes are network namespaces
 * on a bridge of the benchmark's own; Berth's daemons, then docker.io's
 * dockerd as swarm nodes), both driven by the same docker CLI commands:
 *  - the planner alone: 10,000 tasks on 1,000 synthetic nodes (Berth's pure planner);
 *  - `service create --replicas R` until R tasks run, beside its floor: as
 *    many containers started through the Berth nodes' own engine APIs
 *    before the cluster is formed;
 *  - `service update` of 20 replicas until the docker CLI returns;
 *  - `swarm ca --rotate` until the docker CLI returns (every node on the new root);
 *  - a worker's death (its daemon SIGKILLed, its link cut) until its tasks
 *    run elsewhere, beside its floor: the liveness lease's time, plus as
 *    many containers started through the other nodes' engine APIs while
 *    the service's replicas run;
 *  - the leader's death until another manager leads (three managers);
 *  - an overlay network across two nodes (services with --endpoint-mode
 *    dnsrr: this kernel has no IPVS for swarm's virtual IPs): a task's ping
 *    to the other's name, and 2 GiB sent over TCP (busybox dd into nc);
 *  - all nodes but the first pulling one image of random layers at once
 *    (`docker pull`, from a registry on this host behind a proxy on the
 *    lab's link that counts what it sends): the registry's bytes, the time.
 *
 *   bench/cluster [--nodes N] [--replicas R] [--pull-mib M (0: no pull)] [--only planner,berth,swarm]
 *
 * dockerd runs with DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 and services are
 * made with --no-resolve-image (no registry is reachable here), each dockerd
 * with its own roots, key file and containerd namespace.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRandom } from '../src/base/seeded';
import { ApiClient } from '../src/client/client';
import { LIVENESS_TTL_SECONDS } from '../src/cluster/cluster';
import { plan } from '../src/cluster/core/planner';
import { node, service, task } from '../src/cluster/core/generate';
import { cgroupDirs, mountsUnder } from '../test/host';
import { busyboxTar } from '../test/integration/harness';
import { countingProxy, Lab, type LabHost } from '../test/integration/lab';
import { TestRegistry } from '../test/integration/registry-harness';
import { benchFlags, has, removeThroughApi, run, sleep, startThroughApi, table, toolVersion } from './common';

interface Options {
  nodes: number;
  replicas: number;
  pullMib: number;
  only?: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { nodes: 5, replicas: 30, pullMib: 500 };
  benchFlags(argv, {
    nodes: (v) => (o.nodes = Number(v)),
    replicas: (v) => (o.replicas = Number(v)),
    'pull-mib': (v) => (o.pullMib = Number(v)),
    only: (v) => (o.only = new Set(v.split(','))),
  });
  if (o.nodes < MANAGERS + 1) throw new Error(`--nodes: at least ${MANAGERS + 1} (${MANAGERS} managers and a worker that dies)`);
  return o;
}

/** A node as the measurement sees it: its API socket, a docker CLI pointed at it, and how it dies. */
interface BenchNode {
  host: LabHost;
  socket: string;
  docker(args: string[]): Promise<string>;
  kill(): Promise<void>;
}

const DOCKER = '/usr/bin/docker';

async function cli(socket: string, args: string[]): Promise<string> {
  const r = await run(DOCKER, ['-H', `unix://${socket}`, ...args]);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Running tasks of the service, per node hostname, as the manager reports
 * them: read through the Engine API (what `docker service ps` reads), not
 * by running the docker CLI, whose own work ten times a second would take
 * a good part of the cores the measurement shares with the lab.
 */
async function runningPerNode(manager: BenchNode, service: string): Promise<Record<string, number>> {
  const api = new ApiClient(manager.socket);
  const filters = JSON.stringify({ service: { [service]: true }, 'desired-state': { running: true } });
  const [tasks, nodes] = await Promise.all([
    api.json<{ NodeID?: string; Status: { State: string } }[]>('GET', '/tasks', { query: { filters } }),
    api.json<{ ID: string; Description: { Hostname: string } }[]>('GET', '/nodes'),
  ]).catch(() => [[], []] as const);
  const hostname = new Map(nodes.map((n) => [n.ID, n.Description.Hostname]));
  const counts: Record<string, number> = {};
  for (const t of tasks) {
    const n = hostname.get(t.NodeID ?? '');
    if (n && t.Status.State === 'running') counts[n] = (counts[n] ?? 0) + 1;
  }
  return counts;
}

const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

async function until(what: string, ok: () => Promise<boolean>, limitMs = 300_000): Promise<number> {
  const t0 = performance.now();
  while (!(await ok())) {
    if (performance.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs / 1000} s`);
    await sleep(250);
  }
  return performance.now() - t0;
}

interface Timings {
  overlay: { rttMs: number; mibPerS: number } | string;
  place: number;
  update: number;
  recover: number;
  handover: number;
  rotate: number;
  pull?: { bytes: number; ms: number };
  /** The dead worker's tasks started again through the other nodes' engine APIs, under the same load, where measured. */
  restartFloor?: { tasks: number; ms: number };
}

/** The registry both labs pull from, on this host's loopback. */
let registry: TestRegistry | undefined;

/**
 * The first node builds an image of `mib` MiB of random bytes in five
 * layers and pushes it; then every other node pulls it at once. What the
 * registry sent them (through a proxy on the lab's link) and how long.
 */
async function pullAtOnce(nodes: BenchNode[], gateway: string, mib: number): Promise<{ bytes: number; ms: number }> {
  const proxy = await countingProxy(gateway, registry!.port);
  const dir = fs.mkdtempSync('/tmp/bpull-');
  try {
    const image = `${gateway}:${proxy.port}/pull-bench:${path.basename(dir).slice(6)}`;
    const layer = Math.ceil((mib * 2 ** 20) / 5);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), ['FROM busybox', ...[1, 2, 3, 4, 5].map((i) => `RUN head -c ${layer} /dev/urandom > /layer${i}`)].join('\n'));
    await nodes[0].docker(['build', '-q', '-t', image, dir]);
    await nodes[0].docker(['push', image]);
    proxy.reset();
    const t0 = performance.now();
    await Promise.all(nodes.slice(1).map((n) => n.docker(['pull', '-q', image])));
    return { bytes: proxy.served(), ms: performance.now() - t0 };
  } finally {
    await proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The node names the managers list as Leader. */
async function leaderOf(manager: BenchNode): Promise<string | undefined> {
  const out = await manager.docker(['node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}']).catch(() => '');
  return out.split('\n').find((l) => l.endsWith('|Leader'))?.split('|')[0];
}

/**
 * Init on the first node, join two more managers and the rest as workers;
 * then: R replicas placed; a rolling update of 20 replicas; a CA
 * rotation; the last worker's death; the leader's death. The timings.
 */
async function measure(nodes: BenchNode[], replicas: number, join: (node: BenchNode, token: string) => Promise<void>, hostnames: string[], pull: { gateway: string; mib: number },
  restartFloor?: (alive: BenchNode[], tasks: number) => Promise<number>): Promise<Timings> {
  const [first] = nodes;
  const managers = nodes.slice(0, MANAGERS);
  await first.docker(['swarm', 'init', '--advertise-addr', first.host.ip]);
  const managerToken = await first.docker(['swarm', 'join-token', '-q', 'manager']);
  const workerToken = await first.docker(['swarm', 'join-token', '-q', 'worker']);
  for (const n of nodes.slice(1)) await join(n, managers.includes(n) ? managerToken : workerToken);
  await until('nodes ready', async () => (await first.docker(['node', 'ls', '--format', '{{.Status}}'])).split('\n').filter((s) => s === 'Ready').length === nodes.length, 120_000);
  const pulled = pull.mib > 0 ? await pullAtOnce(nodes, pull.gateway, pull.mib) : undefined;
  const overlay = await overlayAcross(nodes, hostnames).catch((e: unknown) => `failed: ${e instanceof Error ? e.message.split('\n')[0].slice(0, 120) : String(e)}`);

  const t0 = performance.now();
  await first.docker(['service', 'create', '--detach', '--name', 'bench', '--replicas', String(replicas), '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
  await until('replicas running', async () => sum(await runningPerNode(first, 'bench')) === replicas);
  const place = performance.now() - t0;

  await first.docker(['service', 'create', '--detach', '--name', 'roll', '--replicas', '20', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
  await until('roll running', async () => sum(await runningPerNode(first, 'roll')) === 20);
  const t1 = performance.now();
  // Not detached: the docker CLI returns once the service has converged (and waited its monitor period on top, on both sides).
  await first.docker(['service', 'update', '--update-monitor', '1s', '--env-add', 'WAVE=2', 'roll']);
  const update = performance.now() - t1;
  await first.docker(['service', 'rm', 'roll']);

  // Not detached: the docker CLI follows the rotation until every node holds a certificate of the new root and trusts it alone.
  const t4 = performance.now();
  await first.docker(['swarm', 'ca', '--rotate']);
  const rotate = performance.now() - t4;
  await until('replicas running after the rotation', async () => sum(await runningPerNode(first, 'bench')) === replicas);

  const dying = nodes[nodes.length - 1];
  const dead = hostnames[hostnames.length - 1];
  const before = await runningPerNode(first, 'bench');
  if (!before[dead]) throw new Error(`no task ran on ${dead} to move`);
  const t2 = performance.now();
  await dying.kill();
  await until('replacements running', async () => {
    const c = await runningPerNode(first, 'bench');
    return sum(c) === replicas && !c[dead];
  });
  const recover = performance.now() - t2;
  const moved = before[dead];
  const floorMs = restartFloor ? await restartFloor(nodes.slice(0, -1), moved) : undefined;

  const old = await leaderOf(first);
  const oldNode = nodes[hostnames.indexOf(old ?? '')];
  if (!oldNode) throw new Error(`no leader among ${hostnames.join(', ')}`);
  const asker = managers.find((m) => m !== oldNode)!;
  const t3 = performance.now();
  await oldNode.kill();
  await until('a new leader', async () => {
    const l = await leaderOf(asker);
    return l !== undefined && l !== old;
  }, 120_000);
  return { overlay, place, update, recover, handover: performance.now() - t3, rotate, pull: pulled, ...(floorMs !== undefined ? { restartFloor: { tasks: moved, ms: floorMs } } : {}) };
}

/**
 * Two tasks on an overlay network, on the second and third nodes: the
 * client's ping to the server's name (20 pings, the mean), and 2 GiB
 * sent to it over TCP. Both sides' tasks are
 * placed by hostname and reached by name (dnsrr on both: no IPVS here).
 */
async function overlayAcross(nodes: BenchNode[], hostnames: string[]): Promise<{ rttMs: number; mibPerS: number }> {
  const [first] = nodes;
  await first.docker(['network', 'create', '-d', 'overlay', 'benchnet']);
  const svc = (name: string, host: string, cmd: string[]) => first.docker(['service', 'create', '--detach', '--name', name, '--network', 'benchnet', '--endpoint-mode', 'dnsrr',
    '--constraint', `node.hostname==${host}`, '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', ...cmd]);
  // The server's nc ends when its own input does: it reads from a sleep, so it takes all the client sends.
  await svc('srv', hostnames[1], ['sh', '-c', 'while :; do sleep 100000 | nc -l -p 5001 > /dev/null; done']);
  await svc('cli', hostnames[2], ['sleep', '100000']);
  await until('overlay tasks running', async () => sum(await runningPerNode(first, 'srv')) === 1 && sum(await runningPerNode(first, 'cli')) === 1, 120_000);
  const client = nodes[2];
  const id = (await client.docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=cli'])).split('\n')[0];
  const exec = (script: string) => client.docker(['exec', id, 'sh', '-c', script]);
  // The name answers once the server serves.
  await until('the server\'s name', async () => /bytes from/.test(await exec('ping -c 1 -W 1 srv 2>&1').catch(() => '')), 60_000);
  const ping = await exec('ping -c 20 -i 0.2 srv');
  const rtt = /min\/avg\/max = [\d.]+\/([\d.]+)\//.exec(ping);
  if (!rtt) throw new Error(`ping: ${ping}`);
  // busybox's dd here prints no rate and its date no nanoseconds: /proc/uptime (10 ms) times 2 GiB.
  const times = await exec('a=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero bs=65536 count=32768 2>/dev/null | nc srv 5001; b=$(cut -d" " -f1 /proc/uptime); echo "$a $b"');
  const [a, b] = times.split(' ').map(Number);
  if (!(b > a)) throw new Error(`timing: ${times}`);
  await first.docker(['service', 'rm', 'srv', 'cli']);
  await until('overlay tasks gone', async () => sum(await runningPerNode(first, 'srv')) + sum(await runningPerNode(first, 'cli')) === 0, 60_000).catch(() => 0);
  return { rttMs: Number(rtt[1]), mibPerS: 2048 / (b - a) };
}

/** Managers in each lab: three, so one may die. */
const MANAGERS = 3;

/**
 * The floor of `service create`: as many containers made and started
 * through the nodes' own engine APIs, spread evenly, 8 at a time on each
 * (as a node's agent starts tasks); no cluster, no CLI. Then removed.
 */
async function engineFloor(sockets: string[], replicas: number): Promise<number> {
  const t0 = performance.now();
  const made = await Promise.all(sockets.map(async (socket, i) => {
    const api = new ApiClient(socket);
    const share = Math.floor(replicas / sockets.length) + (i < replicas % sockets.length ? 1 : 0);
    return { api, ids: await startThroughApi(api, share, 8, { StopTimeout: 1 }) };
  }));
  const ms = performance.now() - t0;
  await Promise.all(made.map(({ api, ids }) => removeThroughApi(api, ids, 8)));
  return ms;
}

async function berth(o: Options): Promise<Timings & { floor: number }> {
  const lab = new Lab();
  try {
    await lab.up(o.nodes);
    const floor = await engineFloor(lab.nodes.map((n) => n.daemon.socket), o.replicas);
    const nodes: BenchNode[] = lab.nodes.map((n) => ({ host: n, socket: n.daemon.socket, docker: (args) => cli(n.daemon.socket, args), kill: () => lab.kill(n) }));
    const addr = () => nodes[0].docker(['node', 'inspect', 'self', '--format', '{{.ManagerStatus.Addr}}']);
    const restartFloor = (alive: BenchNode[], tasks: number) => engineFloor(alive.map((n) => n.socket), tasks);
    return { floor, ...(await measure(nodes, o.replicas, async (n, token) => void (await n.docker(['swarm', 'join', '--token', token, await addr()])), lab.nodes.map((n) => n.name), { gateway: lab.gateway, mib: o.pullMib }, restartFloor)) };
  } finally {
    await lab.down();
  }
}

/** A dockerd as a swarm node in a lab namespace: roots, key file, containerd namespace and cgroup parent of its own. */
async function startDockerd(h: LabHost, dir: string): Promise<{ socket: string; proc: ChildProcess; cgroup: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'daemon.json');
  fs.writeFileSync(config, JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }));
  const socket = path.join(dir, 'sock');
  const ns = path.basename(dir);
  const cgroup = `/bench-swarm-${ns}`;
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'a');
  const args = ['--config-file', config, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '-H', `unix://${socket}`, '--pidfile', path.join(dir, 'pid'),
    '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}p`, '--cgroup-parent', cgroup, '--insecure-registry', `${h.ip.replace(/\.\d+$/, '.0')}/24`];
  // A UTS namespace of its own, so each swarm node has its own hostname (every machine here is "vm").
  const proc = spawn('nsenter', [`--net=/run/netns/${h.netns}`, 'unshare', '--uts', 'sh', '-c', `hostname ${h.name} && exec dockerd "$@"`, 'dockerd', ...args], {
    stdio: ['ignore', log, log], env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
  });
  fs.closeSync(log);
  await until('dockerd up', async () => (await run(DOCKER, ['-H', `unix://${socket}`, 'version'])).code === 0, 60_000);
  await cli(socket, ['import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']);
  return { socket, proc, cgroup };
}

async function swarm(o: Options): Promise<Timings & { version: string }> {
  const lab = new Lab();
  const tmp = fs.mkdtempSync('/tmp/bsw-');
  const daemons: { socket: string; proc: ChildProcess; cgroup: string }[] = [];
  try {
    const hosts = lab.hosts(o.nodes);
    for (const [i, h] of hosts.entries()) daemons.push(await startDockerd(h, path.join(tmp, `n${i + 1}`)));
    const nodes: BenchNode[] = hosts.map((h, i) => ({
      host: h, socket: daemons[i].socket, docker: (args) => cli(daemons[i].socket, args),
      kill: async () => {
        lab.cut(h, true);
        daemons[i].proc.kill('SIGKILL');
      },
    }));
    const result = await measure(nodes, o.replicas, async (n, token) => void (await n.docker(['swarm', 'join', '--token', token, `${nodes[0].host.ip}:2377`])), hosts.map((h) => h.name), { gateway: lab.gateway, mib: o.pullMib });
    return { ...result, version: toolVersion('dockerd') };
  } finally {
    for (const d of daemons) d.proc.kill('SIGKILL');
    // containerd, its shims and the containers outlive a killed dockerd: they go by their cgroups and roots.
    spawnSync('sh', ['-c', `pkill -9 -f 'containerd.*${tmp}'; true`]);
    for (const d of daemons) for (const c of cgroupDirs(d.cgroup)) spawnSync('sh', ['-c', `for p in $(cat ${c}/cgroup.procs 2>/dev/null); do kill -9 $p; done`]);
    await sleep(500);
    for (const m of mountsUnder(tmp).reverse()) spawnSync('umount', ['-l', m]);
    for (const d of daemons) for (const c of cgroupDirs(d.cgroup).reverse()) spawnSync('rmdir', [c]);
    await lab.down();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The planner alone on synthetic nodes: placements per second, median of 3. */
function planner(): { perSecond: number; nodes: number; tasks: number } {
  const r = seededRandom(7);
  const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, '0')}`, { labels: { zone: `z${i % 5}` }, usage: { cpu: r(), memoryBytes: r() * 2 ** 30 } }));
  const services = Array.from({ length: 50 }, (_, i) =>
    service(`s${i}`, { reservations: { nanoCpus: 1e8, memoryBytes: 64 << 20 }, placement: { constraints: i % 3 ? [] : ['node.labels.zone!=z1'], preferences: i % 2 ? ['spread=node.labels.zone'] : [], maxReplicasPerNode: 0 } }),
  );
  const pending = Array.from({ length: 10_000 }, (_, i) => task(`s${i % 50}`, { reservations: { nanoCpus: 1e8, memoryBytes: 64 << 20 } }));
  const rates: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const p = plan({ nodes, services, tasks: [], pending });
    rates.push(p.assignments.length / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { perSecond: rates[1], nodes: nodes.length, tasks: pending.length };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench/cluster runs as root');
  const want = (k: string) => !o.only || o.only.has(k);
  const cols: string[] = [];
  const rows: Record<string, Record<string, string>> = {};
  const put = (row: string, col: string, v: string) => ((rows[row] ??= {})[col] = v);
  const R_PLAN = 'planner alone: 10,000 tasks on 1,000 synthetic nodes';
  const R_PLACE = `service create --replicas ${o.replicas} until all run (${o.nodes} nodes)`;
  const R_UPDATE = 'service update of 20 replicas (--update-monitor 1s, one at a time) until the CLI returns';
  const R_DEATH = 'a worker dies (daemon SIGKILLed, link cut) until its tasks run elsewhere';
  const R_LEADER = 'the leader dies (SIGKILL, link cut) until another manager leads';
  const R_ROTATE = 'swarm ca --rotate until the CLI returns (every node holds a certificate of the new root, trusts it alone)';
  const R_OVERLAY_RTT = 'overlay network across two nodes: ping to a service\'s name, mean of 20 (dnsrr)';
  const R_OVERLAY_TCP = 'overlay network across two nodes: 2 GiB over TCP (busybox dd | nc)';
  const R_PULL_BYTES = `${o.nodes - 1} nodes pull a ${o.pullMib} MiB image at once (docker pull): what the registry sent`;
  const R_PULL_TIME = `${o.nodes - 1} nodes pull a ${o.pullMib} MiB image at once (docker pull): until all have it`;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const putTimings = (col: string, t: Timings) => {
    if (typeof t.overlay === 'string') {
      put(R_OVERLAY_RTT, col, t.overlay);
      put(R_OVERLAY_TCP, col, t.overlay);
    } else {
      put(R_OVERLAY_RTT, col, `${t.overlay.rttMs.toFixed(3)} ms`);
      put(R_OVERLAY_TCP, col, `${Math.round(t.overlay.mibPerS)} MiB/s`);
    }
    put(R_PLACE, col, secs(t.place));
    put(R_UPDATE, col, secs(t.update));
    put(R_DEATH, col, secs(t.recover));
    put(R_LEADER, col, secs(t.handover));
    put(R_ROTATE, col, secs(t.rotate));
    if (t.pull) {
      put(R_PULL_BYTES, col, `${(t.pull.bytes / 2 ** 20).toFixed(0)} MiB (${(t.pull.bytes / (o.pullMib * 2 ** 20)).toFixed(2)} copies)`);
      put(R_PULL_TIME, col, secs(t.pull.ms));
    }
  };
  if (o.pullMib > 0 && (want('berth') || want('swarm'))) {
    registry = new TestRegistry();
    await registry.start();
  }
  if (want('planner')) {
    const p = planner();
    cols.push('Berth');
    put(R_PLAN, 'Berth', `${Math.round(p.perSecond).toLocaleString('en')} placements/s`);
  }
  try {
    if (want('berth')) {
      console.error('bench: Berth lab ...');
      const b = await berth(o);
      const FLOOR = 'floor: each node\'s engine API, no cluster';
      cols.unshift(FLOOR);
      put(R_PLACE, FLOOR, secs(b.floor));
      // A dead node is known once its liveness lease runs out; its tasks cannot start sooner than that and their starts.
      if (b.restartFloor) put(R_DEATH, FLOOR, `${secs(LIVENESS_TTL_SECONDS * 1000 + b.restartFloor.ms)} (its ${LIVENESS_TTL_SECONDS} s lease, then ${b.restartFloor.tasks} starts: ${secs(b.restartFloor.ms)})`);
      if (!cols.includes('Berth')) cols.push('Berth');
      putTimings('Berth', b);
    }
    if (want('swarm') && has('dockerd')) {
      console.error('bench: swarm lab ...');
      const s = await swarm(o);
      const col = `docker ${s.version} swarm`;
      cols.push(col);
      if (want('planner')) put(R_PLAN, col, 'n/a (not separable)');
      putTimings(col, s);
    }
  } finally {
    await registry?.cleanup();
  }
  console.log(table(cols, rows, `one run each; ${o.nodes}-node labs (${MANAGERS} managers) of network namespaces on this host; default settings on both sides but the update's monitor.`));
}

main().catch((e) => {
  console.error(`bench/cluster: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
