import * as fsp from 'node:fs/promises';
import { Socket } from 'node:net';
import { errorMessage, internal } from '../base/errors';
import { reap, spawnDetached } from '../base/linux';

/** Everything conmon needs to monitor one container or exec session. */
export interface ConmonOptions {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  /** Container id (for exec sessions too: the container they run in). */
  containerId: string;
  /** Unique id of what is monitored: the container id, or the exec session id. */
  sessionId: string;
  name: string;
  /** Folder holding config.json; conmon puts attach, ctl and winsz there. */
  bundle: string;
  pidFile: string;
  conmonPidFile: string;
  /** conmon writes `<containerId>` with the exit code here (for exec sessions too). */
  exitDir: string;
  /** Must exist; conmon writes `exit` (and `oom`) here. */
  persistDir: string;
  logPath: string;
  /** conmon truncates the log at this size; 0: no limit. */
  logSizeMax: number;
  tty: boolean;
  stdin: boolean;
  /** Keep the container's stdin open when an attached client goes (docker: not StdinOnce). */
  leaveStdinOpen?: boolean;
  /** Exec sessions: the process spec to run in the container. */
  execProcessSpec?: string;
  /** Exec sessions with stdin: conmon makes the attach socket and waits until we are connected. */
  execAttach?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** The conmon command line for a container or exec session. Pure. */
export function conmonArgs(o: ConmonOptions): string[] {
  const args = [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.sessionId,
    '-n', o.name,
    '-r', o.runtimePath,
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    '-b', o.bundle,
    '-p', o.pidFile,
    '-P', o.conmonPidFile,
    '--exit-dir', o.exitDir,
    '--persist-dir', o.persistDir,
    '--full-attach',
    '-l', `k8s-file:${o.logPath}`,
    '--log-level', o.logLevel ?? 'error',
    '--no-sync-log',
  ];
  if (o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
  if (o.tty) args.push('-t');
  if (o.stdin) args.push('-i');
  if (o.stdin && o.leaveStdinOpen) args.push('--leave-stdin-open');
  if (o.execProcessSpec) args.push('-e', '--exec-process-spec', o.execProcessSpec);
  if (o.execProcessSpec && o.execAttach) args.push('--exec-attach');
  return args;
}

/** A running conmon, as its command line (conmonArgs) describes it. */
export interface ConmonProcess {
  pid: number;
  containerId: string;
  sessionId: string;
  bundle: string;
}

/** Reads conmonArgs' own options back from an argv; undefined when it is not a conmon of ours. Pure. */
export function parseConmonArgv(pid: number, argv: string[]): ConmonProcess | undefined {
  if (!argv[0] || !/(^|\/)conmon$/.test(argv[0]) || argv[1] !== '--api-version') return undefined;
  const opt = (flag: string) => {
    const i = argv.indexOf(flag);
    return i > 0 ? argv[i + 1] : undefined;
  };
  const containerId = opt('-c');
  const sessionId = opt('-u');
  const bundle = opt('-b');
  return containerId && sessionId && bundle ? { pid, containerId, sessionId, bundle } : undefined;
}

/**
 * Starts conmon and waits until it has created the container (or started
 * the exec process). conmon daemonises, so the daemon is never the parent
 * of the container: it learns the pid over the sync pipe and nothing more.
 */
/** The daemon's environment, read once: process.env is slow to read whole, and conmon is started for every exec and probe. */
const DAEMON_ENV: NodeJS.ProcessEnv = { ...process.env };

export function startConmon(o: ConmonOptions, onAttachReady?: () => void, env: NodeJS.ProcessEnv = DAEMON_ENV): Promise<{ pid: number; exit: Promise<number | undefined> }> {
  const attach = !!(o.execProcessSpec && o.execAttach);
  // Pipes on fds 2 (stderr), 3 (sync) and 5 (attach) conmon writes, 4 (start) it reads.
  // conmon 2.1 drops an `oom` file in its working directory when the container is OOM-killed: the bundle.
  const spawning = spawnDetached(o.conmonPath, [o.conmonPath, ...conmonArgs(o)], { ...env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', ...(attach ? { _OCI_ATTACHPIPE: '5' } : {}) }, o.bundle, attach ? 'wwrw' : 'wwr');
  return spawning.catch((e) => Promise.reject(internal(`conmon: ${errorMessage(e)}`, e))).then((spawned) => new Promise((resolve, reject) => {
    reapLater(spawned.pid);
    const [stderrFd, syncFd, startFd, attachFd] = spawned.fds;
    const child = { stderr: new Socket({ fd: stderrFd, readable: true, writable: false }) };
    const sync = new Socket({ fd: syncFd, readable: true, writable: false });
    const start = new Socket({ fd: startFd, readable: false, writable: true });
    // An exec's conmon sends its exit code on the sync pipe too: a second message, or the pipe's end when it died.
    let exitSeen: (code: number | undefined) => void = () => {};
    const exit = new Promise<number | undefined>((r) => (exitSeen = r));
    const attachPipe = attach ? new Socket({ fd: attachFd, readable: true, writable: false }) : undefined;
    let stderr = '';
    let buf = '';
    let settled = false;
    const finish = (err: Error | undefined, pid?: number) => {
      if (settled) return;
      settled = true;
      start.destroy();
      attachPipe?.destroy();
      child.stderr.destroy();
      // A container's conmon has nothing more to say; an exec's says how it ended.
      if (err || !o.execProcessSpec) {
        sync.destroy();
        exitSeen(undefined);
      }
      if (err) reject(err);
      else resolve({ pid: pid!, exit });
    };
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString();
    });
    child.stderr.on('error', () => {});
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { data: number; message?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          finish(internal(`conmon: unexpected sync message ${JSON.stringify(line)}`));
          continue;
        }
        if (settled) {
          exitSeen(msg.data);
          sync.destroy();
        } else if (msg.data < 0) finish(new ConmonStartError(msg.message ?? stderr.trim() ?? 'container create failed'));
        else finish(undefined, msg.data);
      }
    });
    sync.on('end', () => {
      finish(new ConmonStartError(stderr.trim() || 'conmon exited before reporting a pid'));
      exitSeen(undefined);
    });
    sync.on('close', () => exitSeen(undefined));
    start.on('error', () => {});
    sync.on('error', () => {});
    if (attachPipe) {
      // Handshake of --exec-attach: the socket is ready; connect, then let conmon run the process.
      attachPipe.on('error', () => {});
      attachPipe.once('data', () => {
        try {
          onAttachReady?.();
        } finally {
          start.write(Buffer.from([0]));
        }
      });
    }
    start.write(Buffer.from([0]));
  }));
}

/** Spawned conmons not yet reaped: each exits once it has daemonised (or failed); looked for until it has. */
const unreaped = new Set<number>();
let reaper: NodeJS.Timeout | undefined;

function reapLater(pid: number): void {
  unreaped.add(pid);
  reaper ??= setInterval(() => {
    for (const p of unreaped) if (reap(p)) unreaped.delete(p);
    if (!unreaped.size) {
      clearInterval(reaper);
      reaper = undefined;
    }
  }, 100);
  reaper.unref();
}

/** The runtime could not create the container or start the exec process; the message is the runtime's. */
export class ConmonStartError extends Error {
  constructor(readonly runtimeMessage: string) {
    super(runtimeMessage);
    this.name = 'ConmonStartError';
  }
}

/** Messages for conmon's control fifo (`<bundle>/ctl`). */
export const ctlResize = (height: number, width: number) => `1 ${height} ${width}\n`;

/** Writes a message to conmon's control fifo without blocking: a gone conmon is an error, not a hang. */
export async function writeCtl(file: string, msg: string): Promise<void> {
  const fh = await fsp.open(file, fsp.constants.O_WRONLY | fsp.constants.O_NONBLOCK);
  try {
    await fh.write(msg);
  } finally {
    await fh.close();
  }
}
