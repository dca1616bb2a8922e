import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { errorMessage } from '../../base/errors';
import { mkdirp } from '../../base/files';
import type { Logger } from '../../base/log';
import type { Mount } from '../../oci/runtime-spec';
import type { ContainerRecord } from '../model';
import { probeCommand } from './health-rules';
import { type AgentReply, encodeRequest, HELLO, ReplyReader } from './probe-wire';

/** Where containers see the agent's folder: the runtime's own /dev tmpfs, so nothing is made in the image's files. */
export const AGENT_DIR = '/dev/.berth';
export const AGENT_BINARY = `${AGENT_DIR}/berth-probe`;
const SOCKET = 'probe.sock';
/** How long a new agent has to say hello. */
const HELLO_MS = 10_000;
/** An agent that ends this often in one run of its container is given up on: probes go the exec way. */
const MAX_STARTS = 5;
/** A reply later than the probe's own timeout by this much means the agent is stuck. */
const GRACE_MS = 5_000;

/** The agent cannot serve this container's run; the caller probes the exec way. */
export class AgentUnavailable extends Error {}

/** Starts the agent in the container as an exec session with this extra environment; `exit` settles when it ends. */
export type AgentLauncher = (c: ContainerRecord, env: string[]) => Promise<{ exit: Promise<unknown>; log: string }>;

/**
 * Health probes without an exec each: a small static agent (berth-probe,
 * from native/probe_agent.c), started in the container once per run as an
 * exec session, runs each probe as its own child and says how it ended.
 * The agent's folder (the binary and the daemon's socket) is bind-mounted
 * read-only at /dev/.berth in containers that have a health check; a
 * container without the mount (made before, or with a /dev of its own), or
 * whose agent cannot start, is probed the exec way.
 */
export class ProbeAgents {
  private server?: net.Server;
  private readonly agents = new Map<string, Agent>();
  private readonly waiting = new Map<string, (s: net.Socket) => void>();
  /** Per container: the run its agents were started for, how many, and why it was given up on. */
  private readonly runs = new Map<string, { run: string; starts: number; gaveUp?: string }>();

  constructor(
    private readonly dir: string,
    /** The agent binary; undefined: probes go the exec way (`--health-probes exec`). */
    private readonly binary: string | undefined,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return !!this.server;
  }

  /** Places the binary and listens; without the binary, agents are off and the daemon says why. */
  async open(): Promise<void> {
    if (!this.binary) return;
    try {
      await mkdirp(this.dir, 0o755);
      await fsp.chmod(this.dir, 0o755);
      const tmp = path.join(this.dir, '.berth-probe.tmp');
      await fsp.copyFile(this.binary, tmp);
      await fsp.chmod(tmp, 0o755);
      await fsp.rename(tmp, path.join(this.dir, 'berth-probe'));
      const sock = path.join(this.dir, SOCKET);
      await fsp.rm(sock, { force: true });
      const server = net.createServer((s) => this.greet(s));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => resolve());
      });
      // Containers' users are anyone: the token, not the mode, tells agents apart.
      await fsp.chmod(sock, 0o666);
      this.server = server;
    } catch (e) {
      this.logger.warn('probe agents are off: health probes run as exec sessions', { error: errorMessage(e) });
    }
  }

  close(): void {
    for (const a of this.agents.values()) a.close();
    this.agents.clear();
    this.server?.close();
    this.server = undefined;
  }

  /** The mount a container gets for its agent, or none: no health check, agents off, or a /dev the agent's folder cannot go in. */
  mountFor(c: ContainerRecord, mounts: Mount[]): Mount | undefined {
    if (!this.enabled || !probeCommand(c.Config.Healthcheck, c.Config.Shell)) return undefined;
    const clash = mounts.some((m) => {
      const d = path.posix.normalize(m.destination).replace(/\/$/, '') || '/';
      return d === '/' || d === '/dev' || d === AGENT_DIR || d.startsWith(`${AGENT_DIR}/`);
    });
    if (clash) return undefined;
    return { destination: AGENT_DIR, type: 'bind', source: this.dir, options: ['rbind', 'ro', 'nosuid', 'nodev', 'rprivate'] };
  }

  /** Is an agent of this container connected (its exec folder is in use)? */
  has(containerId: string): boolean {
    return this.agents.has(containerId);
  }

  /**
   * Runs one probe through the container's agent, started first if this run
   * has none. Throws AgentUnavailable when the agent cannot serve the run;
   * other errors are the probe's failure.
   */
  async run(c: ContainerRecord, cmd: string[], timeoutMs: number, launch: AgentLauncher): Promise<AgentReply> {
    // A run mounted for agents by a daemon that had them on, probed by one that has them off.
    if (!this.enabled) throw new AgentUnavailable('probe agents are off');
    const agent = await this.agentFor(c, launch);
    return agent.ask(cmd, timeoutMs);
  }

  /** The container stopped or went: its agent (if it still lives) is told to go. */
  drop(containerId: string, forget = false): void {
    this.agents.get(containerId)?.close();
    this.agents.delete(containerId);
    if (forget) this.runs.delete(containerId);
  }

  private async agentFor(c: ContainerRecord, launch: AgentLauncher): Promise<Agent> {
    const run = c.State.StartedAt;
    const known = this.agents.get(c.Id);
    if (known?.run === run) return known;
    this.drop(c.Id);
    let r = this.runs.get(c.Id);
    if (r?.run !== run) this.runs.set(c.Id, (r = { run, starts: 0 }));
    if (r.gaveUp) throw new AgentUnavailable(r.gaveUp);
    if (r.starts >= MAX_STARTS) return this.giveUp(c, r, `its probe agent ended ${r.starts} times`);
    r.starts++;
    try {
      const agent: Agent = new Agent(run, await this.start(c, launch), () => {
        if (this.agents.get(c.Id) === agent) this.agents.delete(c.Id);
      });
      this.agents.set(c.Id, agent);
      return agent;
    } catch (e) {
      return this.giveUp(c, r, errorMessage(e));
    }
  }

  private giveUp(c: ContainerRecord, r: { gaveUp?: string }, why: string): never {
    r.gaveUp = why;
    this.logger.warn('health probes of this container run as exec sessions', { id: c.Id, why });
    throw new AgentUnavailable(why);
  }

  /** Starts the agent and waits for its hello; its early end or silence is an error that says why. */
  private async start(c: ContainerRecord, launch: AgentLauncher): Promise<net.Socket> {
    const token = randomBytes(16).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const hello = new Promise<net.Socket>((resolve) => this.waiting.set(token, resolve));
    try {
      const { exit, log } = await launch(c, [`BERTH_PROBE_SOCKET=${AGENT_DIR}/${SOCKET}`, `BERTH_PROBE_TOKEN=${token}`]);
      const ended = exit.then(async () => {
        const said = (await fsp.readFile(log, 'utf8').catch(() => '')).trim().split('\n').pop() ?? '';
        throw new Error(`the probe agent ended at its start${said ? `: ${said.replace(/^\S+ std(?:out|err) [FP] /, '')}` : ''}`);
      });
      ended.catch(() => {}); // it ends much later when all went well
      const silent = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the probe agent did not call in')), HELLO_MS)));
      return await Promise.race([hello, ended, silent]);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(token);
    }
  }

  /** A new connection says which agent it is, by the token that agent was started with; anything else is dropped. */
  private greet(s: net.Socket): void {
    let line = '';
    const timer = setTimeout(() => s.destroy(), HELLO_MS);
    // A caller's broken connection is its own end: 'close' follows and the socket is gone.
    s.on('error', () => s.destroy());
    const onData = (d: Buffer) => {
      line += d.toString('latin1');
      const nl = line.indexOf('\n');
      if (nl < 0) {
        if (line.length > 128) s.destroy();
        return;
      }
      clearTimeout(timer);
      s.off('data', onData);
      const took = line.startsWith(HELLO) ? this.waiting.get(line.slice(HELLO.length, nl)) : undefined;
      // An agent speaks only when asked: nothing may follow its hello.
      if (!took || nl !== line.length - 1) return void s.destroy();
      s.pause();
      took(s);
    };
    s.on('data', onData);
    s.on('close', () => clearTimeout(timer));
  }
}

/** One connected agent: one probe at a time, as the health monitor asks. */
class Agent {
  private seq = 0;
  private pending?: { seq: number; resolve: (r: AgentReply) => void; reject: (e: Error) => void };
  private readonly reader = new ReplyReader();
  alive = true;

  constructor(
    readonly run: string,
    private readonly socket: net.Socket,
    private readonly gone: () => void,
  ) {
    socket.on('data', (d: Buffer) => {
      try {
        for (const r of this.reader.push(d)) {
          if (r.seq !== this.pending?.seq) continue; // the reply to a probe given up on
          const p = this.pending;
          this.pending = undefined;
          p.resolve(r);
        }
      } catch (e) {
        this.fail(e as Error);
      }
    });
    socket.on('close', () => this.fail(new Error('the probe agent ended')));
    socket.on('error', (e) => this.fail(e));
    socket.resume();
  }

  ask(cmd: string[], timeoutMs: number): Promise<AgentReply> {
    if (!this.alive) return Promise.reject(new Error('the probe agent ended'));
    if (this.pending) return Promise.reject(new Error('a probe is under way'));
    const seq = (this.seq = (this.seq + 1) >>> 0);
    return new Promise<AgentReply>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error('the probe agent did not answer')), timeoutMs + GRACE_MS);
      this.pending = {
        seq,
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.socket.write(encodeRequest(seq, timeoutMs, cmd));
    });
  }

  /** Ends the connection: the agent kills what it runs and goes. */
  close(): void {
    this.fail(new Error('the probe agent was stopped'));
  }

  private fail(e: Error): void {
    if (this.alive) this.gone();
    this.alive = false;
    this.socket.destroy();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }
}
