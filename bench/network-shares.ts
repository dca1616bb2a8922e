/**
 * bench/network's shares section: --network-bandwidth on a link of known
 * capacity. The link is a veth to a namespace of the benchmark's own (the
 * "test host", running iperf3 servers), capped at 100 Mbit/s: by Berth's
 * HTB root when Berth shapes it, by a plain HTB class of the same rate
 * (one FIFO, as a host without shares has) for docker, which has no shares.
 * Three containers with guarantees of 20, 60 and 10 Mbit/s send at once,
 * in pairs and alone; each row shows what the rules give the container
 * (planLink and fairShares, the model the unit tests check), what it got
 * on the wire (its HTB class's bytes, sampled every 100 ms over the middle
 * of the run, when all senders are busy), its TCP goodput and retransmits
 * (iperf3), and docker's goodput beside it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fairShares, planLink } from '../src/network/bandwidth';
import { type Daemon, dockerServerVersion, run, sleep, startBerth, startDockerd } from './common';

const CAPACITY = 100e6;
const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];
const GUARANTEE: Record<Name, number> = { a: 20e6, b: 60e6, c: 10e6 };
const PORT: Record<Name, number> = { a: 5301, b: 5302, c: 5303 };
const SETS: Name[][] = [['a', 'b', 'c'], ['a', 'b'], ['a', 'c'], ['b', 'c'], ['a'], ['b'], ['c']];
const IMAGE = 'iperf:bench';
/** Full-size TCP segments with timestamps on Ethernet: goodput per wire bit. */
const GOODPUT_PER_WIRE = 1448 / 1514;

interface Lab {
  link: string;
  peer: string;
  drop(): void;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The link and its far end: a namespace with an iperf3 server per container. */
function makeLab(tag: string): Lab {
  const ns = `bsh${tag}`;
  const link = `bsl${tag}`;
  const servers: ChildProcess[] = [];
  const drop = () => {
    for (const s of servers) s.kill();
    spawnSync('ip', ['link', 'del', link]);
    spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['addr', 'add', '10.237.0.1/30', 'dev', link]);
    sh('ip', ['link', 'set', link, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', '10.237.0.2/30', 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    for (const n of NAMES) servers.push(spawn('ip', ['netns', 'exec', ns, 'iperf3', '-s', '-p', String(PORT[n])], { stdio: 'ignore' }));
    spawnSync('sleep', ['0.5']);
  } catch (e) {
    drop();
    throw e;
  }
  return { link, peer: '10.237.0.2', drop };
}

/** Bytes sent per HTB class (by minor, hex) on the link. */
function classBytes(link: string): Map<string, number> {
  const out = spawnSync('tc', ['-s', 'class', 'show', 'dev', link], { encoding: 'utf8' }).stdout ?? '';
  return new Map([...out.matchAll(/^class htb 1:([0-9a-f]+) [^\n]*\n\s*Sent (\d+) bytes/gm)].map((m) => [m[1], Number(m[2])]));
}

interface Sent {
  goodput: number;
  retransmits: number;
  /** Wire rate over the middle of the run (classes only). */
  wire?: number;
}

/**
 * Runs iperf3 from each named container at once; with `minors`, samples the
 * classes' bytes every 100 ms and takes each class's rate between 1 s
 * after the start and 0.5 s before the end.
 */
async function send(d: Daemon, lab: Lab, set: Name[], seconds: number, minors?: Record<Name, string>): Promise<Record<string, Sent>> {
  const samples: { t: number; bytes: Map<string, number> }[] = [];
  let sampling = !!minors;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ t: performance.now(), bytes: classBytes(lab.link) });
      await sleep(100);
    }
  })();
  const t0 = performance.now();
  const runs = await Promise.all(set.map((n) => run(d.cli[0], [...d.cli.slice(1), 'exec', `share-${n}`, 'iperf3', '-c', lab.peer, '-p', String(PORT[n]), '-t', String(seconds), '-J'])));
  sampling = false;
  await sampler;
  const out: Record<string, Sent> = {};
  set.forEach((n, i) => {
    if (runs[i].code !== 0) throw new Error(`iperf3 from ${n}: ${runs[i].stderr || runs[i].stdout.slice(0, 500)}`);
    const j = JSON.parse(runs[i].stdout);
    out[n] = { goodput: j.end.sum_received.bits_per_second, retransmits: j.end.sum_sent.retransmits ?? 0 };
    if (minors) {
      const from = samples.find((s) => s.t >= t0 + 1000)!;
      const to = [...samples].reverse().find((s) => s.t <= t0 + (seconds - 0.5) * 1000)!;
      out[n].wire = (((to.bytes.get(minors[n]) ?? 0) - (from.bytes.get(minors[n]) ?? 0)) * 8 * 1000) / (to.t - from.t);
    }
  });
  return out;
}

/** The rates the rules give each busy container, as the daemon plans its classes. */
function expected(set: Name[], priority: Partial<Record<Name, number>>): Record<string, number> {
  const members = NAMES.map((n, i) => ({ minor: 0x10 + i, bw: { guarantee: GUARANTEE[n], limit: 0, priority: priority[n] ?? 0 } }));
  const plan = planLink(CAPACITY, members);
  const got = fairShares(CAPACITY, set.map((n) => ({ cls: plan.classes[NAMES.indexOf(n)], demand: Infinity })));
  return Object.fromEntries(set.map((n, i) => [n, got[i]]));
}

async function ctl(d: Daemon, args: string[]): Promise<string> {
  const r = await run(d.cli[0], [...d.cli.slice(1), ...args]);
  if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The minor of each container's class, from the daemon's CLASSIFY rules (by the container's address). */
async function minorsOf(d: Daemon): Promise<Record<Name, string>> {
  const save = sh('iptables-save', ['-t', 'mangle']);
  const out = {} as Record<Name, string>;
  for (const n of NAMES) {
    const ip = await ctl(d, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', `share-${n}`]);
    const m = new RegExp(`-s ${ip.replace(/\./g, '\\.')}/32 .*--set-class 0001:([0-9a-f]+)`).exec(save);
    if (!m) throw new Error(`no class rule for share-${n} (${ip})`);
    out[n] = parseInt(m[1], 16).toString(16);
  }
  return out;
}

/**
 * Borrowing: b sends alone, a joins for a few seconds and leaves. How long
 * until a has 90% of its share after it starts, and b 90% of the link
 * after a stops, from the classes' rates over 200 ms windows.
 */
async function borrowing(d: Daemon, lab: Lab, minors: Record<Name, string>): Promise<{ join: number; leave: number }> {
  const samples: { t: number; bytes: Map<string, number> }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ t: performance.now(), bytes: classBytes(lab.link) });
      await sleep(50);
    }
  })();
  const iperf = (n: Name, secs: number) => run(d.cli[0], [...d.cli.slice(1), 'exec', `share-${n}`, 'iperf3', '-c', lab.peer, '-p', String(PORT[n]), '-t', String(secs), '-J']);
  const b = iperf('b', 9);
  await sleep(2500);
  const aStart = performance.now();
  await iperf('a', 3);
  const aEnd = performance.now();
  await b;
  sampling = false;
  await sampler;
  const rate = (minor: string, i: number) => {
    const j = samples.findIndex((s) => s.t >= samples[i].t - 200);
    const dt = samples[i].t - samples[j].t;
    return dt > 0 ? (((samples[i].bytes.get(minor) ?? 0) - (samples[j].bytes.get(minor) ?? 0)) * 8 * 1000) / dt : 0;
  };
  const share = expected(['a', 'b'], {});
  const first = (after: number, ok: (i: number) => boolean) => {
    const i = samples.findIndex((s, k) => s.t >= after && ok(k));
    return i < 0 ? NaN : (samples[i].t - after) / 1000;
  };
  return {
    join: first(aStart, (k) => rate(minors.a, k) >= 0.9 * share.a),
    leave: first(aEnd, (k) => rate(minors.b, k) >= 0.9 * CAPACITY),
  };
}

const mbit = (x: number) => (x / 1e6).toFixed(1);

/** The section's rows, Berth's and docker's columns, measured in this run. */
export async function sharesSection(tmp: string, tag: string, tar: string, seconds: number): Promise<{ columns: string[]; rows: Record<string, Record<string, string>>; notes: string[] }> {
  const lab = makeLab(tag);
  const rows: Record<string, Record<string, string>> = {};
  const columns = ['the rules give (wire)', 'Berth: wire', 'Berth: off by', 'Berth: goodput, retransmits'];
  const notes: string[] = [];
  const label = (set: Name[], n: Name, prio: Partial<Record<Name, number>> = {}) => {
    const raised = NAMES.filter((x) => prio[x]).map((x) => `, ${x} at priority ${prio[x]}`).join('');
    return `${set.join('+')} busy${raised}: ${n} (${GUARANTEE[n] / 1e6} guaranteed)`;
  };
  try {
    const berth = await startBerth(path.join(tmp, 'berth-shares'), tag, tar, IMAGE, ['--bandwidth-link', lab.link, '--bandwidth-capacity', '100mbit']);
    try {
      for (const n of NAMES) await ctl(berth, ['run', '-d', '--name', `share-${n}`, '--network-bandwidth', `guarantee=${GUARANTEE[n] / 1e6}mbit`, IMAGE, 'sleep', '100000']);
      const minors = await minorsOf(berth);
      const put = (set: Name[], got: Record<string, Sent>, prio: Partial<Record<Name, number>>) => {
        const want = expected(set, prio);
        for (const n of set) {
          const r = (rows[label(set, n, prio)] ??= {});
          r[columns[0]] = `${mbit(want[n])} Mbit/s`;
          r[columns[1]] = `${mbit(got[n].wire!)} Mbit/s`;
          r[columns[2]] = `${(((got[n].wire! - want[n]) / want[n]) * 100).toFixed(1)}%`;
          r[columns[3]] = `${mbit(got[n].goodput)} Mbit/s, ${got[n].retransmits}`;
        }
      };
      for (const set of SETS) {
        console.error(`bench: shares, Berth, ${set.join('+')} ...`);
        put(set, await send(berth, lab, set, seconds, minors), {});
      }
      await ctl(berth, ['update', '--network-bandwidth', 'guarantee=20mbit,priority=1', 'share-a']);
      console.error('bench: shares, Berth, a+b+c with a at priority 1 ...');
      put(['a', 'b', 'c'], await send(berth, lab, ['a', 'b', 'c'], seconds, minors), { a: 1 });
      await ctl(berth, ['update', '--network-bandwidth', 'guarantee=20mbit,priority=0', 'share-a']);
      console.error('bench: shares, Berth, borrowing ...');
      const b = await borrowing(berth, lab, minors);
      notes.push(`Borrowing (Berth): a joining a busy b had 90% of its share ${b.join.toFixed(2)} s after it started; b had 90% of the link ${b.leave.toFixed(2)} s after a stopped.`);
    } finally {
      await berth.stop();
    }
    // docker: no shares; the same link capped at the same rate by one plain class.
    const saved = sh('iptables-save', []);
    const bridge = `bsd${tag}`;
    let docker: Daemon | undefined;
    try {
      sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
      sh('ip', ['addr', 'add', '10.236.0.1/24', 'dev', bridge]);
      sh('ip', ['link', 'set', bridge, 'up']);
      docker = await startDockerd(['--bridge', bridge], tar, IMAGE);
      if (docker) {
        sh('tc', ['qdisc', 'add', 'dev', lab.link, 'root', 'handle', '1:', 'htb', 'default', '1']);
        sh('tc', ['class', 'add', 'dev', lab.link, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '100mbit', 'ceil', '100mbit', 'burst', '64k', 'cburst', '64k']);
        const col = `docker ${await dockerServerVersion(docker.cli)}: goodput, retransmits (no shares)`;
        columns.push(col);
        for (const n of NAMES) await ctl(docker, ['run', '-d', '--name', `share-${n}`, IMAGE, 'sleep', '100000']);
        for (const set of SETS) {
          console.error(`bench: shares, docker, ${set.join('+')} ...`);
          const got = await send(docker, lab, set, seconds);
          for (const n of set) (rows[label(set, n)] ??= {})[col] = `${mbit(got[n].goodput)} Mbit/s, ${got[n].retransmits}`;
        }
      }
    } finally {
      await docker?.stop();
      spawnSync('tc', ['qdisc', 'del', 'dev', lab.link, 'root']);
      spawnSync('ip', ['link', 'del', bridge]);
      spawnSync('iptables-restore', [], { input: saved });
    }
  } finally {
    lab.drop();
  }
  notes.push(`The link: a veth capped at 100 Mbit/s. Goodput is iperf3's (TCP payload, about ${(GOODPUT_PER_WIRE * 100).toFixed(1)}% of the wire rate for full-size segments).`);
  return { columns, rows, notes };
}
