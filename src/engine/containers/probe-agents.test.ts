import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { createLogger } from '../../base/log';
import type { ContainerRecord } from '../model';
import { AGENT_DIR, AgentUnavailable, type AgentLauncher, ProbeAgents } from './probe-agents';

/**
 * The agent (native/probe_agent.c, as built by `npm run build`) run on the
 * host, as the daemon runs it in a container: the same socket, token and
 * wire, started by a launcher that spawns it here instead of through conmon.
 */
const BINARY = path.join(__dirname, '../../../../native/build/Release/berth-probe');
const quiet = createLogger('error', fs.createWriteStream('/dev/null'));

const record = (id: string, run = 'run-1', mounts = true): ContainerRecord =>
  ({ Id: id, State: { StartedAt: run }, Config: { Healthcheck: mounts ? { Test: ['CMD', 'true'] } : undefined } }) as unknown as ContainerRecord;

/** The processes whose command line holds `marker` (each test's probes use a sleep of their own length). */
function running(marker: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      return !/\) Z /.test(stat) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(marker);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Zombie children of a process: what a subreaper failed to reap. */
function zombiesOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      return f[0] === 'Z' && Number(f[1]) === pid;
    } catch {
      return false;
    }
  }).map(Number);
}

/** A sleep no other run of this test starts: its length holds this process's pid. */
const sleeper = (n: number) => `sleep ${n}.${process.pid}`;

const until = async (cond: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
};

describe('probe agents (the real agent binary, on the host)', { skip: !fs.existsSync(BINARY) && 'the agent is not built' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agent-'));
  const agents = new ProbeAgents(path.join(dir, 'agent'), BINARY, quiet);
  const pids: number[] = [];
  let launches = 0;
  /** Starts the agent here, its socket at the host path of what containers see at /dev/.berth. */
  const launch: AgentLauncher = async (_c, env) => {
    launches++;
    const vars = Object.fromEntries(env.map((e) => e.split(/=(.*)/s).slice(0, 2)));
    vars.BERTH_PROBE_SOCKET = vars.BERTH_PROBE_SOCKET.replace(AGENT_DIR, path.join(dir, 'agent'));
    const log = path.join(dir, `agent-${launches}.log`);
    const out = fs.openSync(log, 'w');
    const p = spawn(BINARY, [], { env: { PATH: process.env.PATH, ...vars }, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    pids.push(p.pid!);
    return { exit: new Promise((r) => p.once('exit', r)), log };
  };
  after(async () => {
    // Let go first: each agent kills what it runs, then goes.
    agents.close();
    const went = await until(() => pids.every((p) => !fs.existsSync(`/proc/${p}`)), 2000);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(went, 'every agent went when let go');
  });

  test('opens: the binary in place, the socket open to any user', async () => {
    await agents.open();
    assert.ok(agents.enabled);
    assert.equal(fs.statSync(path.join(dir, 'agent', 'berth-probe')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(dir, 'agent', 'probe.sock')).mode & 0o777, 0o666);
  });

  test('a probe: its exit status, stdout and stderr together, from one agent kept for the run', async () => {
    const c = record('c1');
    const r = await agents.run(c, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], 5000, launch);
    assert.deepEqual({ ...r, output: r.output.toString() }, { seq: 1, code: 3, end: 'exited', more: false, output: 'out\nerr\n' });
    const again = await agents.run(c, ['/bin/true'], 5000, launch);
    assert.deepEqual([again.code, again.end, again.seq], [0, 'exited', 2]);
    assert.equal(launches, 1, 'one agent for both probes');
    assert.ok(agents.has('c1'));
    // Killed by a signal: 128 + its number, as a shell says.
    assert.equal((await agents.run(c, ['/bin/sh', '-c', 'kill -9 $$'], 5000, launch)).code, 137);
  });

  test("output past 4096 bytes is cut and said to be; the probe's environment is the container's, not the agent's", async () => {
    const c = record('c1');
    const r = await agents.run(c, ['/bin/sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x'], 5000, launch);
    assert.deepEqual([r.output.toString(), r.more], ['x'.repeat(4096), true]);
    const env = await agents.run(c, ['/bin/sh', '-c', 'env | grep -c BERTH_PROBE || true'], 5000, launch);
    assert.equal(env.output.toString(), '0\n');
  });

  test('a probe that could not start says why, by errno', async () => {
    const r = await agents.run(record('c1'), ['/no/such/probe'], 5000, launch);
    assert.deepEqual([r.end, r.code], ['nostart', os.constants.errno.ENOENT]);
  });

  test('at the timeout the probe and all it started are killed, one in a session of its own too', async () => {
    const t0 = Date.now();
    const r = await agents.run(record('c1'), ['/bin/sh', '-c', `echo started; setsid ${sleeper(601)} & ${sleeper(602)}`], 300, launch);
    assert.deepEqual([r.end, r.output.toString()], ['timeout', 'started\n']);
    assert.ok(Date.now() - t0 < 3000, 'ended at its timeout');
    assert.ok(await until(() => running(sleeper(601)).length + running(sleeper(602)).length === 0), 'nothing of the probe is left');
  });

  test("what a probe leaves behind is reaped by the agent, not left a zombie; the probe's end is not held up by it", async () => {
    const c = record('c1');
    const t0 = Date.now();
    const r = await agents.run(c, ['/bin/sh', '-c', '(sleep 0.2 &); echo done'], 5000, launch);
    assert.equal(r.output.toString(), 'done\n');
    assert.ok(Date.now() - t0 < 150, 'the orphan holding the output pipe is not waited for');
    const agentPid = pids[pids.length - 1];
    await new Promise((res) => setTimeout(res, 500));
    assert.deepEqual(zombiesOf(agentPid), []);
  });

  test("the daemon letting go ends the agent and the probe it was running", async () => {
    const c = record('c2');
    const probe = agents.run(c, ['/bin/sh', '-c', sleeper(603)], 60_000, launch);
    assert.ok(await until(() => running(sleeper(603)).length > 0));
    const agentPid = pids[pids.length - 1];
    agents.drop('c2');
    await assert.rejects(probe, /the probe agent was stopped/);
    assert.ok(await until(() => running(sleeper(603)).length === 0), 'the probe is gone');
    assert.ok(await until(() => !fs.existsSync(`/proc/${agentPid}`) || /\) Z /.test(fs.readFileSync(`/proc/${agentPid}/stat`, 'utf8'))), 'the agent is gone');
  });

  test('an agent killed is started again at the next probe; one that keeps dying is given up on', async () => {
    const c = record('c3');
    for (let i = 0; i < 5; i++) {
      assert.equal((await agents.run(c, ['/bin/true'], 5000, launch)).code, 0);
      process.kill(pids[pids.length - 1], 'SIGKILL');
      assert.ok(await until(() => !agents.has('c3')), 'its end is seen');
    }
    await assert.rejects(agents.run(c, ['/bin/true'], 5000, launch), AgentUnavailable);
    // A new run of the container starts over.
    assert.equal((await agents.run(record('c3', 'run-2'), ['/bin/true'], 5000, launch)).code, 0);
  });

  test("an agent that cannot start is given up on for the run, with its reason; strangers on the socket are dropped", async () => {
    const broken: AgentLauncher = async (c, env) => launch(c, env.filter((e) => !e.startsWith('BERTH_PROBE_TOKEN=')));
    await assert.rejects(agents.run(record('c4'), ['/bin/true'], 5000, broken), /ended at its start: berth-probe: started without BERTH_PROBE_SOCKET and BERTH_PROBE_TOKEN/);
    await assert.rejects(agents.run(record('c4'), ['/bin/true'], 5000, launch), AgentUnavailable, 'not tried again in that run');
    const net = await import('node:net');
    const s = net.connect(path.join(dir, 'agent', 'probe.sock'));
    s.write('berth-probe 1 not-a-token\n');
    const closed = await new Promise<boolean>((r) => {
      s.on('close', () => r(true));
      s.on('error', () => {});
      setTimeout(() => r(false), 2000);
    });
    assert.ok(closed, 'a wrong token is hung up on');
  });

  test('the mount: only for a container with a health check, and never over a /dev of its own', () => {
    const m = agents.mountFor(record('c5'), []);
    assert.deepEqual(m, { destination: '/dev/.berth', type: 'bind', source: path.join(dir, 'agent'), options: ['rbind', 'ro', 'nosuid', 'nodev', 'rprivate'] });
    assert.equal(agents.mountFor(record('c5', 'r', false), []), undefined);
    for (const d of ['/dev', '/dev/', '/dev/.berth', '/dev/.berth/x'])
      assert.equal(agents.mountFor(record('c5'), [{ destination: d, type: 'bind', source: '/x' }]), undefined, d);
    assert.ok(agents.mountFor(record('c5'), [{ destination: '/dev/shm', type: 'tmpfs', source: 'shm' }]));
    assert.equal(new ProbeAgents(path.join(dir, 'off'), undefined, quiet).mountFor(record('c5'), []), undefined, 'agents off: exec probes');
  });
});
