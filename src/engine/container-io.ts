import { conflict } from '../base/errors';
import { ctlResize, writeCtl } from '../runtime/conmon';
import { type ContainerService, runPaths } from './containers';
import type { AttachedIo } from './execs';
import { followLog, type LogBatch, logEnd, parseTimeArg, readLogs } from './logs';
import { StdinSink } from './stdin';

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
  const file = svc.logPath(c);
  const filter = { since: parseTimeArg(o.since), until: parseTimeArg(o.until), stdout: o.stdout !== false, stderr: o.stderr !== false };
  const tail = o.tail === undefined || o.tail === 'all' || o.tail === '' ? undefined : Number(o.tail);
  const end = await logEnd(file);
  yield* readLogs(file, { ...filter, tail: Number.isFinite(tail) ? tail : undefined });
  if (!o.follow || !c.State.Running || filter.until !== undefined) return;
  const run = c.State.StartedAt;
  const done = () => !c.State.Running || c.State.StartedAt !== run;
  // Old files were read above; follow the live one from where it was.
  yield* followLog(file, end, done, filter, signal);
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
  const onExit = () => (exited = true);
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
  const from = await logEnd(file);
  const cleanup = () => {
    svc.lifecycle.off(`exit:${c.Id}`, onExit);
    svc.lifecycle.off(`remove:${c.Id}`, onExit);
    svc.lifecycle.off(`start:${c.Id}`, onStart);
  };
  async function* output(signal: AbortSignal): AsyncGenerator<LogBatch> {
    try {
      if (o.logs) yield* readLogs(file, filter);
      if (!o.stream) return;
      // Nothing will come from a container that is not running and not about to start.
      const done = () => exited || (!c.State.Running && c.State.Status !== 'created' && !c.State.Restarting);
      yield* followLog(file, from, done, filter, signal);
    } finally {
      cleanup();
    }
  }
  return {
    output: o.stdout || o.stderr ? output : undefined,
    stdin,
    tty: !!c.Config.Tty,
    resize: (h, w) => resizeContainer(svc, c.Id, h, w),
  };
}

export async function resizeContainer(svc: ContainerService, ref: string, h: number, w: number): Promise<void> {
  const c = svc.store.get(ref);
  if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
  if (!c.Config.Tty) return;
  await writeCtl(runPaths(svc.cfgExecRoot, c.Id).ctl, ctlResize(h, w));
}
