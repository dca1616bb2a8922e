import { parseDetachKeys } from '../../base/detach-keys';
import { type FSWatcher, watch } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { conflict, errorMessage, invalidArgument, isErrno, notFound } from '../../base/errors';
import { atomicWriteJson, mkdirp, readFileIfExists, readJsonIfExists } from '../../base/files';
import type { Finding } from '../../base/finding';
import { newId } from '../../base/ids';
import { type ConmonOptions, ConmonStartError, ctlResize, startConmon, writeCtl } from '../../runtime/conmon';
import { cleanRuntimeMessage } from '../../runtime/oci-runtime';
import { capabilitySet } from '../../runtime/spec';
import type { EngineConfig } from '../config';
import type { ContainerRecord } from '../model';
import type { ContainerService } from './containers';
import { runPaths } from './containers';
import type { EventBus } from '../system/events';
import { type Inventory, killMonitor } from '../system/leftovers';
import { followLog } from '../logs/log-follower';
import { type LogBatch, parseLogLine } from '../logs/logs';
import { MAX_OUTPUT } from './health-rules';
import { mergeEnv } from './merge';
import { StdinSink } from './stdin';
import { AGENT_BINARY, AgentUnavailable, type ProbeAgents } from './probe-agents';
import { type AgentReply, startFailure } from './probe-wire';
import { readUserDb, resolveUser } from '../../base/users';
import { processAlive, processTree } from '../../base/procs';

export interface ExecConfig {
  Cmd: string[];
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  DetachKeys?: string;
}

interface ExecSession {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  exited: Promise<void>;
  markExited: () => void;
}

/** What an attached client gets from a started exec or container. */
export interface AttachedIo {
  /** Output until the process ends (or the signal aborts). */
  output?: (signal: AbortSignal) => AsyncGenerator<LogBatch>;
  stdin?: StdinSink;
  tty: boolean;
  /** Terminal size changes, for tty sessions. */
  resize?: (h: number, w: number) => Promise<void>;
  /** Lets go of what the session holds (listeners, open log files); called once, when the client is done. */
  close?: () => void;
}

/**
 * Exec sessions, each monitored by its own conmon (`conmon --exec`): its
 * output goes to a log file under the session's folder, its exit code to an
 * exit file, as for containers. Sessions live in memory, as docker's do.
 */
export class ExecService {
  private readonly sessions = new Map<string, ExecSession>();
  /** Each probing container's probe folder, by container id. */
  private readonly probeSlots = new Map<string, ProbeSlot>();

  constructor(
    private readonly cfg: EngineConfig,
    private readonly containers: ContainerService,
    private readonly events: EventBus,
    private readonly agents: ProbeAgents,
  ) {}

  private dir(id: string) {
    return path.join(this.cfg.execRoot, 'exec', id);
  }

  /** conmon names exit files after the container, so each session gets its own folder. */
  private exitFile(s: ExecSession): string {
    return path.join(this.dir(s.id), 'exit', s.containerId);
  }

  create(ref: string, config: ExecConfig): { Id: string } {
    parseDetachKeys(config.DetachKeys || undefined); // a bad sequence is refused at create, as dockerd does
    const c = this.containers.store.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (c.State.Paused) throw conflict(`Container ${c.Id} is paused, unpause the container before exec`);
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0) throw invalidArgument('No exec command specified');
    const id = newId();
    this.addSession(id, c.Id, config);
    this.events.container(`exec_create: ${config.Cmd.join(' ')}`, c, { execID: id });
    return { Id: id };
  }

  private addSession(id: string, containerId: string, config: ExecConfig): ExecSession {
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    const s: ExecSession = { id, containerId, config, running: false, exitCode: null, pid: 0, exited, markExited };
    this.sessions.set(id, s);
    return s;
  }

  /**
   * After a daemon restart, sessions whose conmon still runs in a running
   * container are known again (as detached ones), so their exits are seen
   * and their folders freed.
   */
  async restore(inv: Inventory): Promise<void> {
    for (const m of inv.execMonitors) {
      // Probes and agents of the daemon that went are not sessions: check() clears them.
      if (/^(probe|agent)-/.test(m.sessionId)) continue;
      if (this.sessions.has(m.sessionId) || !this.containers.store.byFullId(m.containerId)?.State.Running) continue;
      const proc = await readJsonIfExists<{ args?: string[]; terminal?: boolean }>(path.join(this.dir(m.sessionId), 'process.json'));
      if (!proc?.args?.length) continue;
      const s = this.addSession(m.sessionId, m.containerId, { Cmd: proc.args, Tty: !!proc.terminal });
      s.running = true;
      s.pid = Number(await fsp.readFile(path.join(this.dir(s.id), 'pidfile'), 'utf8').catch(() => '0')) || 0;
      void this.watchExit(s);
    }
  }

  /** Session folders and conmons of sessions this daemon does not know. */
  check(inv: Inventory): Finding[] {
    const probing = (id: string) => (id.startsWith('probe-') && this.probeSlots.has(id.slice('probe-'.length))) || (id.startsWith('agent-') && this.agents.has(id.slice('agent-'.length)));
    const unknown = new Set([...inv.execFolders, ...inv.execMonitors.map((m) => m.sessionId)].filter((id) => !this.sessions.has(id) && !probing(id)));
    return [...unknown].map((id) => {
      const monitors = inv.execMonitors.filter((m) => m.sessionId === id);
      return {
        kind: 'exec-session',
        subject: this.dir(id),
        detail: `an exec session this daemon does not know${monitors.length ? ', with its conmon' : ''}`,
        repair: async () => {
          for (const m of monitors) killMonitor(m.pid, m.containerId, m.sessionId);
          await fsp.rm(this.dir(id), { recursive: true, force: true });
        },
      };
    });
  }

  get(id: string): ExecSession {
    const s = this.sessions.get(id);
    if (!s) throw notFound(`No such exec instance: ${id}`);
    return s;
  }

  inspect(id: string) {
    const s = this.get(id);
    return {
      ID: s.id,
      Running: s.running,
      ExitCode: s.exitCode,
      ProcessConfig: { tty: !!s.config.Tty, entrypoint: s.config.Cmd[0], arguments: s.config.Cmd.slice(1), privileged: !!s.config.Privileged, user: s.config.User ?? '' },
      OpenStdin: !!s.config.AttachStdin,
      OpenStderr: !!s.config.AttachStderr,
      OpenStdout: !!s.config.AttachStdout,
      CanRemove: false,
      ContainerID: s.containerId,
      DetachKeys: s.config.DetachKeys ?? '',
      Pid: s.pid,
    };
  }

  /** Starts the process; with `detach`, returns no streams. */
  async start(id: string, detach: boolean): Promise<AttachedIo> {
    const s = this.get(id);
    if (s.running || s.exitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.containers.store.get(s.containerId);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    const dir = this.dir(id);
    const logPath = path.join(dir, 'exec.log');
    await mkdirp(path.join(dir, 'persist'));
    await mkdirp(path.dirname(this.exitFile(s)), 0o700);
    await atomicWriteJson(path.join(dir, 'process.json'), await this.processSpec(c, s.config));
    const rt = this.containers.runtimeOf(c);
    const stdin = s.config.AttachStdin && !detach ? new StdinSink() : undefined;
    s.running = true;
    try {
      const { pid } = await startConmon({
        conmonPath: this.cfg.conmonPath, runtimePath: rt.path, runtimeRoot: rt.root, containerId: c.Id, sessionId: id,
        name: c.Name.slice(1), bundle: dir, pidFile: path.join(dir, 'pidfile'), conmonPidFile: path.join(dir, 'conmon.pid'),
        exitDir: path.dirname(this.exitFile(s)), persistDir: path.join(dir, 'persist'), logPath, logSizeMax: 0,
        tty: !!s.config.Tty, stdin: !!stdin, execProcessSpec: path.join(dir, 'process.json'), execAttach: !!stdin,
      }, () => stdin?.connect(path.join(dir, 'attach')));
      s.pid = pid;
    } catch (e) {
      s.running = false;
      const msg = e instanceof ConmonStartError ? cleanRuntimeMessage(e.runtimeMessage) : errorMessage(e);
      // dockerd: 126 for any exec the runtime could not start (a missing binary too; `run` says 127 for that).
      s.exitCode = 126;
      s.markExited();
      await fsp.rm(dir, { recursive: true, force: true });
      throw invalidArgument(`OCI runtime exec failed: ${msg}: unknown`);
    }
    this.events.container(`exec_start: ${s.config.Cmd.join(' ')}`, c, { execID: id });
    void this.watchExit(s);
    if (detach) return { tty: !!s.config.Tty };
    const done = () => !s.running;
    return {
      output: (signal) => followLog(logPath, 'start', { done, ended: s.exited, signal }),
      stdin,
      tty: !!s.config.Tty,
      resize: (h, w) => this.resize(id, h, w),
    };
  }

  /** The OCI process of an exec in the container: its user and groups from the container's own files, its env over the container's. */
  private async processSpec(c: ContainerRecord, config: ExecConfig) {
    const rootfs = runPaths(this.cfg.execRoot, c.Id).rootfs;
    const { passwd, groups } = await readUserDb(rootfs);
    const user = resolveUser(config.User || c.Config.User || '', passwd, groups, c.HostConfig.GroupAdd ?? []);
    const caps = capabilitySet(!!(c.HostConfig.Privileged || config.Privileged), c.HostConfig.CapAdd ?? [], c.HostConfig.CapDrop ?? []);
    const env = mergeEnv(c.Config.Env ?? [], config.Env ?? []);
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    if (config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    return {
      terminal: !!config.Tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.length ? user.additionalGids : undefined },
      args: config.Cmd,
      env,
      cwd: config.WorkingDir || c.Config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: (c.HostConfig.SecurityOpt ?? []).some((o) => o.startsWith('no-new-privileges') && !o.endsWith('false')) || undefined,
    };
  }

  /**
   * Learns of the session's end from conmon's exit file, as it appears
   * (a watch on its folder; a look every 500 ms besides), or from conmon's
   * death without one, or from the container's end.
   */
  private async watchExit(s: ExecSession): Promise<void> {
    const file = this.exitFile(s);
    let wake: (() => void) | undefined;
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(path.dirname(file), () => wake?.());
      watcher.on('error', () => {});
    } catch {
      watcher = undefined;
    }
    try {
      for (;;) {
        const text = await readFileIfExists(file);
        if (text !== undefined) {
          s.exitCode = Number(text.trim()) || 0;
          break;
        }
        const c = this.containers.store.find(s.containerId);
        if (!c || !c.State.Running || !(await this.monitorAlive(s))) {
          // One more look: conmon writes the exit file just before it goes.
          const last = await readFileIfExists(file);
          if (last === undefined && s.pid) {
            // Its monitor is gone: nothing would capture its output or see its end.
            try {
              process.kill(s.pid, 'SIGKILL');
            } catch {
              /* gone too */
            }
          }
          s.exitCode ??= last !== undefined ? Number(last.trim()) || 0 : 137;
          break;
        }
        await new Promise<void>((res) => {
          const t = setTimeout(res, 500);
          wake = () => {
            clearTimeout(t);
            res();
          };
        });
        wake = undefined;
      }
    } finally {
      watcher?.close();
    }
    s.running = false;
    s.markExited();
    const c = this.containers.store.find(s.containerId);
    if (c) this.events.container('exec_die', c, { execID: s.id, exitCode: String(s.exitCode) });
    else this.events.publish('container', 'exec_die', s.containerId, { execID: s.id, exitCode: String(s.exitCode) });
    // Clients read the exit code right after; the session and its folder go after a grace period.
    setTimeout(() => this.forget(s), 60_000).unref();
  }

  private forget(s: ExecSession): Promise<void> {
    this.sessions.delete(s.id);
    return fsp.rm(this.dir(s.id), { recursive: true, force: true });
  }

  /**
   * A health probe, as docker runs one: a process of the container's user,
   * environment and working folder, with no stdin, stdout and stderr kept
   * together (the first MAX_OUTPUT bytes), killed with all it started at the
   * timeout. It runs through the container's probe agent when it has one
   * (probe-agents.ts: a fork inside the container), else as an exec session
   * of its own. A probe that could not start throws, with the runtime's
   * words.
   */
  async probe(containerId: string, cmd: string[], timeoutMs: number): Promise<ProbeOutcome> {
    const c = this.containers.store.get(containerId);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (c.State.Paused) throw conflict(`Container ${c.Id} is paused, unpause the container before exec`);
    // Each probe is an exec to those who watch events, as with dockerd.
    const execId = newId();
    this.events.container(`exec_create: ${cmd.join(' ')}`, c, { execID: execId });
    const started = () => this.events.container(`exec_start: ${cmd.join(' ')}`, c, { execID: execId });
    const r = (c.probeAgent ? await this.probeByAgent(c, cmd, timeoutMs, started) : undefined) ?? (await this.probeByExec(c, cmd, timeoutMs, started));
    this.events.container('exec_die', c, { execID: execId, exitCode: String(r.exitCode) });
    return r;
  }

  /** The probe through the container's agent; undefined when the agent cannot serve this run. */
  private async probeByAgent(c: ContainerRecord, cmd: string[], timeoutMs: number, onStart: () => void): Promise<ProbeOutcome | undefined> {
    let r: AgentReply;
    try {
      r = await this.agents.run(c, cmd, timeoutMs, (c2, env) => this.launchAgent(c2, env));
    } catch (e) {
      if (e instanceof AgentUnavailable) return undefined;
      throw e;
    }
    if (r.end === 'nostart') throw invalidArgument(`OCI runtime exec failed: exec failed: unable to start container process: ${startFailure(cmd[0], r.code, os.constants.errno)}: unknown`);
    onStart();
    return { exitCode: r.code, output: r.output, more: r.more, timedOut: r.end === 'timeout' };
  }

  /** Starts a container's probe agent as an exec session of its own (`agent-<id>`), its output to a small log. */
  private async launchAgent(c: ContainerRecord, env: string[]): Promise<{ exit: Promise<unknown>; log: string }> {
    const dir = this.dir(`agent-${c.Id}`);
    await fsp.rm(dir, { recursive: true, force: true });
    await mkdirp(path.join(dir, 'persist'));
    await mkdirp(path.join(dir, 'exit'), 0o700);
    await fsp.writeFile(path.join(dir, 'process.json'), JSON.stringify(await this.processSpec(c, { Cmd: [AGENT_BINARY], Env: env, User: c.Config.User, WorkingDir: c.Config.WorkingDir })));
    const log = path.join(dir, 'agent.log');
    try {
      const { exit } = await startConmon(this.helperExec(c, dir, log, AGENT_LOG_MAX));
      return { exit, log };
    } catch (e) {
      throw new Error(e instanceof ConmonStartError ? cleanRuntimeMessage(e.runtimeMessage) : errorMessage(e));
    }
  }

  /** conmon's options for an exec of the daemon's own (a probe, an agent) kept in `dir`, with process.json written there: no stdin, no terminal. */
  private helperExec(c: ContainerRecord, dir: string, logPath: string, logSizeMax: number): ConmonOptions {
    const rt = this.containers.runtimeOf(c);
    return {
      conmonPath: this.cfg.conmonPath, runtimePath: rt.path, runtimeRoot: rt.root, containerId: c.Id, sessionId: path.basename(dir),
      name: c.Name.slice(1), bundle: dir, pidFile: path.join(dir, 'pidfile'), conmonPidFile: path.join(dir, 'conmon.pid'),
      exitDir: path.join(dir, 'exit'), persistDir: path.join(dir, 'persist'), logPath, logSizeMax,
      tty: false, stdin: false, execProcessSpec: path.join(dir, 'process.json'),
    };
  }

  /** The probe as an exec session (conmon and `runc exec`), in the folder its container's run keeps for them. */
  private async probeByExec(c: ContainerRecord, cmd: string[], timeoutMs: number, onStart: () => void): Promise<ProbeOutcome> {
    const slot = await this.probeSlot(c, cmd);
    const logPath = path.join(slot.dir, 'exec.log');
    await fsp.unlink(logPath).catch((e) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
    let started: { pid: number; exit: Promise<number | undefined> };
    try {
      started = await startConmon(this.helperExec(c, slot.dir, logPath, PROBE_LOG_MAX));
    } catch (e) {
      const msg = e instanceof ConmonStartError ? cleanRuntimeMessage(e.runtimeMessage) : errorMessage(e);
      throw invalidArgument(`OCI runtime exec failed: ${msg}: unknown`);
    }
    onStart();
    // conmon says how the probe ended on its sync pipe (nothing when it died: then the probe is a failure).
    let timer: NodeJS.Timeout | undefined;
    const over = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    let code = await Promise.race([started.exit, over]);
    clearTimeout(timer);
    let timedOut = code === 'timeout';
    if (timedOut) {
      killTree(started.pid);
      // Killed; a probe that ended just then keeps its own code.
      code = await Promise.race([started.exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      if (code === 0) timedOut = false;
    }
    const exitCode = typeof code === 'number' ? code : -1;
    const { output, more } = await readProbeOutput(logPath);
    return { exitCode, output, more, timedOut };
  }

  /** The probe folder of the container's current run, made (with its process spec) at the first probe or a change of command. */
  private async probeSlot(c: ContainerRecord, cmd: string[]): Promise<ProbeSlot> {
    const key = JSON.stringify([c.State.StartedAt, cmd]);
    const cur = this.probeSlots.get(c.Id);
    if (cur?.key === key) return cur;
    const dir = this.dir(`probe-${c.Id}`);
    await fsp.rm(dir, { recursive: true, force: true });
    await mkdirp(path.join(dir, 'persist'));
    await mkdirp(path.join(dir, 'exit'), 0o700);
    const spec = await this.processSpec(c, { Cmd: cmd, User: c.Config.User, WorkingDir: c.Config.WorkingDir });
    await fsp.writeFile(path.join(dir, 'process.json'), JSON.stringify(spec));
    // Removed or stopped while this was made (dropProbes ran meanwhile): the folder goes, and no probe runs.
    if (!this.containers.store.find(c.Id)?.State.Running) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw conflict(`container ${c.Id} is not running`);
    }
    const slot = { key, dir };
    this.probeSlots.set(c.Id, slot);
    return slot;
  }

  /** The container's probes are over (it stopped, or went): its agent goes, and the folders of both ways. */
  async dropProbes(containerId: string, gone = false): Promise<void> {
    this.probeSlots.delete(containerId);
    this.agents.drop(containerId, gone);
    await fsp.rm(this.dir(`probe-${containerId}`), { recursive: true, force: true });
    await fsp.rm(this.dir(`agent-${containerId}`), { recursive: true, force: true });
  }

  private async monitorAlive(s: ExecSession): Promise<boolean> {
    const pid = Number(await fsp.readFile(path.join(this.dir(s.id), 'conmon.pid'), 'utf8').catch(() => '0'));
    if (!pid) return true; // not written yet
    return processAlive(pid);
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const s = this.get(id);
    if (!s.config.Tty) return;
    await writeCtl(path.join(this.dir(id), 'ctl'), ctlResize(h, w));
  }
}

/** What a probe came to. */
export interface ProbeOutcome {
  exitCode: number;
  output: Buffer;
  more: boolean;
  timedOut: boolean;
}

/** An agent's own log (it writes only when it fails) is cut by conmon past this. */
const AGENT_LOG_MAX = 64 << 10;

/** A probe's log is cut by conmon past this: the output kept is its first bytes, and a probe that floods cannot fill the disk. */
const PROBE_LOG_MAX = 1 << 20;

/** SIGKILL to the probe and all it started (a shell's `sleep` too), so nothing of it stays in the container. */
function killTree(pid: number): void {
  if (!pid) return;
  // Frozen first, so none starts another child between the look and the kill.
  const tree = processTree(pid);
  for (const sig of ['SIGSTOP', 'SIGKILL'] as const) {
    for (const p of [...tree, ...(sig === 'SIGKILL' ? processTree(pid) : [])]) {
      try {
        process.kill(p, sig);
      } catch {
        /* gone */
      }
    }
  }
}

/** The first MAX_OUTPUT bytes of a probe's output, stdout and stderr as they came, from conmon's log; read until that much has come. */
async function readProbeOutput(file: string): Promise<{ output: Buffer; more: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  let rest = Buffer.alloc(0);
  // Plain reads, no stream: a probe's log is mostly one short line, and this runs for every probe.
  const fh = await fsp.open(file, 'r').catch((e) => {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  });
  if (!fh) return { output: Buffer.alloc(0), more: false };
  try {
    const chunk = Buffer.allocUnsafe(64 << 10);
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (!bytesRead) break;
      const buf = rest.length ? Buffer.concat([rest, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let at = 0;
      for (let nl = buf.indexOf(10, at); nl >= 0 && size <= MAX_OUTPUT; at = nl + 1, nl = buf.indexOf(10, at)) {
        const e = parseLogLine(buf.subarray(at, nl));
        if (!e) continue;
        // Copied: the read buffer is reused.
        parts.push(Buffer.from(e.data), ...(e.full ? [NEWLINE] : []));
        size += e.data.length + (e.full ? 1 : 0);
      }
      if (size > MAX_OUTPUT || bytesRead < chunk.length) break;
      rest = Buffer.from(buf.subarray(at));
    }
  } finally {
    await fh.close();
  }
  const output = Buffer.concat(parts, size);
  return { output: output.subarray(0, MAX_OUTPUT), more: size > MAX_OUTPUT };
}

const NEWLINE = Buffer.from('\n');

/** A container run's probe folder, and what its process spec was written for. */
interface ProbeSlot {
  key: string;
  dir: string;
}
