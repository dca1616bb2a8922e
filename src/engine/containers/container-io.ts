import { BerthError, conflict } from '../../base/errors';
import { ctlResize, writeCtl } from '../../runtime/conmon';
import { type ContainerService, runPaths } from './containers';
import type { AttachedIo } from './execs';
import { LogFollower } from '../logs/log-follower';
import { type LogBatch, parseTimeArg } from '../logs/logs';
import { StdinSink } from './stdin';
import type { ContainerRecord } from '../model';

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string;
  until?: string;
  tail?: string;
}

/** docker logs: what the files hold, then (with follow) what comes until the container stops. */
export async function* containerLogs(svc: ContainerService, ref: string, o: LogsOptions, signal?: AbortSignal): AsyncGenerator<LogBatch> {
  const c = svc.store.get(ref);
  assertReadableLogs(c);
  const file = svc.logPath(c);
  const filter = { since: parseTimeArg(o.since), until: parseTimeArg(o.until), stdout: o.stdout !== false, stderr: o.stderr !== false };
  const tail = o.tail === undefined || o.tail === 'all' || o.tail === '' ? undefined : Number(o.tail);
  const reader = LogFollower.open(file, 'start', holdBytes(c));
  try {
    const run = c.State.StartedAt;
    // Without follow, or for a container not running, the reader stops at the end of what is there.
    const follow = o.follow && c.State.Running && filter.until === undefined;
    const done = () => !follow || !c.State.Running || c.State.StartedAt !== run;
    yield* reader.read({ ...filter, done, signal, tail: Number.isFinite(tail) ? tail : undefined });
  } finally {
    reader.close();
  }
}

/**
 * How much removed log a lagging reader may keep open, beyond the log's own
 * bound: eight times that bound (at least 128 MiB), so a reader that falls
 * behind a flood of short lines for a few seconds on a busy host still gets
 * every line, and one that stops reading cannot fill the disk.
 */
function holdBytes(c: { logMaxSize: number; logMaxFile: number }): number {
  return c.logMaxSize > 0 ? Math.max(128 << 20, 8 * c.logMaxSize * Math.max(1, c.logMaxFile)) : Infinity;
}

/**
 * docker attach: output follows the log from now (or from the start with
 * `logs`), across restarts, until the container stops after the attach
 * began; stdin goes through conmon's attach socket once the container runs.
 */
export async function attachContainer(
  svc: ContainerService,
  ref: string,
  o: { stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; stream: boolean },
): Promise<AttachedIo> {
  const c = svc.store.get(ref);
  if (c.State.Status === 'exited' && !o.logs) throw conflict('You cannot attach to a stopped container, start it first');
  if (c.State.Paused) throw conflict('You cannot attach to a paused container, unpause it first');
  const file = svc.logPath(c);
  const stdin = o.stdin && c.Config.OpenStdin ? new StdinSink() : undefined;
  const p = runPaths(svc.cfgExecRoot, c.Id);
  let exited = false;
  let markEnded!: () => void;
  const ended = new Promise<void>((res) => (markEnded = res));
  const onExit = () => {
    exited = true;
    markEnded();
  };
  const onStart = () => {
    try {
      stdin?.connect(p.attach);
    } catch {
      /* conmon gone already: stdin is dropped */
    }
  };
  svc.lifecycle.once(`exit:${c.Id}`, onExit);
  svc.lifecycle.once(`remove:${c.Id}`, onExit);
  if (stdin) {
    if (c.State.Running) onStart();
    else svc.lifecycle.once(`start:${c.Id}`, onStart);
  }
  const filter = { stdout: o.stdout, stderr: o.stderr };
  // Opened now, so output written between the attach and the first read is not missed.
  const reader = o.stdout || o.stderr ? LogFollower.open(file, o.logs ? 'start' : 'end', holdBytes(c)) : undefined;
  const cleanup = () => {
    svc.lifecycle.off(`exit:${c.Id}`, onExit);
    svc.lifecycle.off(`remove:${c.Id}`, onExit);
    svc.lifecycle.off(`start:${c.Id}`, onStart);
  };
  async function* output(signal: AbortSignal): AsyncGenerator<LogBatch> {
    // Nothing will come from a container that is not running and not about to start.
    const done = () => !o.stream || exited || (!c.State.Running && c.State.Status !== 'created' && !c.State.Restarting);
    yield* reader!.read({ ...filter, done, ended, signal });
  }
  return {
    output: reader ? output : undefined,
    stdin,
    tty: !!c.Config.Tty,
    resize: (h, w) => resizeContainer(svc, c.Id, h, w),
    close: () => {
      reader?.close();
      cleanup();
    },
  };
}

export async function resizeContainer(svc: ContainerService, ref: string, h: number, w: number): Promise<void> {
  const c = svc.store.get(ref);
  if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
  if (!c.Config.Tty) return;
  await writeCtl(runPaths(svc.cfgExecRoot, c.Id).ctl, ctlResize(h, w));
}

/** Refuses `logs` of a container whose driver keeps no log to read (none), as dockerd does (501). */
export function assertReadableLogs(c: ContainerRecord): void {
  if (c.HostConfig.LogConfig?.Type === 'none') throw new BerthError('not_implemented', 'configured logging driver does not support reading');
}
