import { parseDetachKeys } from '../../base/detach-keys';
import { type FSWatcher, watch } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { conflict, errorMessage, invalidArgument, notFound } from '../../base/errors';
import { atomicWriteJson, mkdirp, readFileIfExists, readJsonIfExists } from '../../base/files';
import type { Finding } from '../../base/finding';
import { newId } from '../../base/ids';
import { ConmonStartError, ctlResize, startConmon, writeCtl } from '../../runtime/conmon';
import { cleanRuntimeMessage } from '../../runtime/oci-runtime';
import { capabilitySet } from '../../runtime/spec';
import type { EngineConfig } from '../config';
import type { ContainerService } from './containers';
import { runPaths } from './containers';
import type { EventBus } from '../system/events';
import { type Inventory, killMonitor } from '../system/leftovers';
import { followLog } from '../logs/log-follower';
import type { LogBatch } from '../logs/logs';
import { mergeEnv } from './merge';
import { StdinSink } from './stdin';
import { readUserDb, resolveUser } from '../../base/users';

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

  constructor(
    private readonly cfg: EngineConfig,
    private readonly containers: ContainerService,
    private readonly events: EventBus,
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
    this.events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, c.Id, { name: c.Name.slice(1), execID: id });
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
    const unknown = new Set([...inv.execFolders, ...inv.execMonitors.map((m) => m.sessionId)].filter((id) => !this.sessions.has(id)));
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
    const rootfs = runPaths(this.cfg.execRoot, c.Id).rootfs;
    const { passwd, groups } = await readUserDb(rootfs);
    const user = resolveUser(s.config.User || c.Config.User || '', passwd, groups, c.HostConfig.GroupAdd ?? []);
    const caps = capabilitySet(!!(c.HostConfig.Privileged || s.config.Privileged), c.HostConfig.CapAdd ?? [], c.HostConfig.CapDrop ?? []);
    const env = mergeEnv(c.Config.Env ?? [], s.config.Env ?? []);
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    if (s.config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const process = {
      terminal: !!s.config.Tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.length ? user.additionalGids : undefined },
      args: s.config.Cmd,
      env,
      cwd: s.config.WorkingDir || c.Config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: (c.HostConfig.SecurityOpt ?? []).some((o) => o.startsWith('no-new-privileges') && !o.endsWith('false')) || undefined,
    };
    await atomicWriteJson(path.join(dir, 'process.json'), process);
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
    this.events.publish('container', `exec_start: ${s.config.Cmd.join(' ')}`, c.Id, { name: c.Name.slice(1), execID: id });
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
    this.events.publish('container', 'exec_die', s.containerId, { execID: s.id, exitCode: String(s.exitCode) });
    // Clients read the exit code right after; the session and its folder go after a grace period.
    setTimeout(() => {
      this.sessions.delete(s.id);
      void fsp.rm(this.dir(s.id), { recursive: true, force: true });
    }, 60_000).unref();
  }

  private async monitorAlive(s: ExecSession): Promise<boolean> {
    const pid = Number(await fsp.readFile(path.join(this.dir(s.id), 'conmon.pid'), 'utf8').catch(() => '0'));
    if (!pid) return true; // not written yet
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const s = this.get(id);
    if (!s.config.Tty) return;
    await writeCtl(path.join(this.dir(id), 'ctl'), ctlResize(h, w));
  }
}
