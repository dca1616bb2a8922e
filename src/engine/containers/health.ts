import * as fs from 'node:fs';
import { errorMessage } from '../../base/errors';
import { atomicWriteJson, readJsonIfExists } from '../../base/files';
import type { Logger } from '../../base/log';
import type { ContainerRecord, Health, ProbeResult } from '../model';
import type { EventBus } from '../system/events';
import type { ContainerService } from './containers';
import type { ExecService } from './execs';
import { applyProbe, cutOutput, goDuration, type HealthAction, healBackoffMs, healthTimes, nextProbeDelay, probeCommand } from './health-rules';

/** Probe results between status changes are written at most this often (a daemon restart keeps the history up to then). */
const SAVE_EVERY_MS = 5_000;

/** The checkpoint of every probing container's health: its run (StartedAt) and its Health, by id. */
type Checkpoint = Record<string, { run: string; health: Health }>;
const lastEnd = (h: Health) => h.Log[h.Log.length - 1]?.End ?? '';

/**
 * Health checks, as dockerd runs them: while a container with a health
 * check runs (and is not paused), its probe runs after each interval, one
 * at a time, through the container's probe agent or as an exec session
 * (`ExecService.probe`; a probe that hangs blocks nothing here); its result moves `.State.Health` by docker's
 * rules, and a change of status is an event. Beyond docker, a container
 * that turns unhealthy may be killed, restarted or stopped
 * (`--health-on-failure`). A daemon restart resumes probing where it was:
 * status, streak and history are kept (dockerd starts over). A change of
 * status is saved in the container's record at once; the results between
 * go to one checkpoint file for all containers, every 5 s at most, so the
 * daemon's cost of a probe does not include a write.
 */
export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Bumped at every start and stop of a container's probing: a probe that outlived its run is ignored. */
  private readonly runs = new Map<string, number>();
  private checkpointTimer?: NodeJS.Timeout;
  /** Health restarts of a container since it was last healthy: each waits longer, as the restart policy's back-off. */
  private readonly heals = new Map<string, number>();
  private unsubscribe?: () => void;
  private closed = false;

  constructor(
    private readonly containers: ContainerService,
    private readonly execs: ExecService,
    private readonly events: EventBus,
    private readonly logger: Logger,
    /** The checkpoint file (in the data root). */
    private readonly checkpointFile: string,
  ) {}

  /** Resumes the probes of running containers, with the history of the checkpoint where it is newer, then follows their lifecycle. */
  async open(): Promise<void> {
    const saved = (await readJsonIfExists<Checkpoint>(this.checkpointFile).catch((e) => {
      this.logger.warn('health checkpoint unreadable: the history since each last change of status is not restored', { file: this.checkpointFile, error: errorMessage(e) });
      return undefined;
    })) ?? {};
    for (const c of this.containers.store.all()) {
      const kept = saved[c.Id];
      if (kept && c.State.Health && kept.run === c.State.StartedAt && lastEnd(kept.health) > lastEnd(c.State.Health)) c.State = { ...c.State, Health: kept.health };
    }
    for (const c of this.containers.store.all()) if (c.State.Running && !c.State.Paused) this.resume(c, false);
    this.unsubscribe = this.events.subscribe((e) => {
      if (e.Type !== 'container') return;
      const c = this.containers.store.find(e.Actor.ID);
      if (e.Action === 'start' && c) this.resume(c, true);
      else if (e.Action === 'unpause' && c) this.resume(c, false);
      else if (e.Action === 'pause') this.halt(e.Actor.ID);
      else if (e.Action === 'die' || e.Action === 'destroy') {
        if (e.Action === 'destroy') this.forget(e.Actor.ID);
        else this.halt(e.Actor.ID);
        void this.execs.dropProbes(e.Actor.ID, e.Action === 'destroy').catch((err) => this.logger.warn('probe folder removal', { id: e.Actor.ID, error: errorMessage(err) }));
      }
    });
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    for (const id of [...this.timers.keys()]) this.halt(id);
    if (this.checkpointTimer) {
      clearTimeout(this.checkpointTimer);
      // At a clean stop the last results are kept too (written whole, as atomicWrite does).
      const tmp = `${this.checkpointFile}.tmp`;
      try {
        fs.writeFileSync(tmp, JSON.stringify(this.checkpoint()));
        fs.renameSync(tmp, this.checkpointFile);
      } catch (e) {
        this.logger.warn('health checkpoint', { error: errorMessage(e) });
      }
    }
  }

  /** Starts probing; a fresh run starts as docker's: status starting, no streak, the history kept. */
  private resume(c: ContainerRecord, fresh: boolean): void {
    const hc = c.Config.Healthcheck;
    if (!probeCommand(hc, c.Config.Shell)) return;
    this.halt(c.Id);
    const run = (this.runs.get(c.Id) ?? 0) + 1;
    this.runs.set(c.Id, run);
    if (fresh || !c.State.Health) {
      c.State = { ...c.State, Health: { Status: 'starting', FailingStreak: 0, Log: c.State.Health?.Log ?? [] } };
      void this.containers.store.save(c).catch((e) => this.logger.warn('health state save', { id: c.Id, error: errorMessage(e) }));
    }
    const t = healthTimes(hc!);
    this.schedule(c.Id, run, nextProbeDelay(c.State.Health!, t, c.State.StartedAt, Date.now()));
  }

  /** The container is gone: nothing of it is kept. */
  private forget(id: string): void {
    this.halt(id);
    this.runs.delete(id);
    this.heals.delete(id);
  }

  private halt(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
  }

  private schedule(id: string, run: number, delayMs: number): void {
    if (this.closed) return;
    this.timers.set(id, setTimeout(() => void this.probe(id, run), delayMs));
  }

  private async probe(id: string, run: number): Promise<void> {
    this.timers.delete(id);
    const c = this.containers.store.find(id);
    const cmd = c && probeCommand(c.Config.Healthcheck, c.Config.Shell);
    if (!c || !cmd || !c.State.Running || c.State.Paused || this.runs.get(id) !== run) return;
    const t = healthTimes(c.Config.Healthcheck!);
    const result = await this.runProbe(c, cmd, t.timeoutMs);
    const cur = this.containers.store.find(id);
    if (!cur?.State.Running || this.runs.get(id) !== run) return;
    const before: Health = cur.State.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const after = applyProbe(before, result, t, cur.State.StartedAt);
    cur.State = { ...cur.State, Health: after };
    if (after.Status === 'healthy') this.heals.delete(id);
    if (after.Status !== before.Status) {
      await this.containers.store.save(cur).catch((e) => this.logger.warn('health state save', { id, error: errorMessage(e) }));
      this.events.container(`health_status: ${after.Status}`, cur);
      if (after.Status === 'unhealthy') this.act(cur);
    } else this.checkpointSoon();
    if (this.runs.get(id) === run) this.schedule(id, run, nextProbeDelay(after, t, cur.State.StartedAt, Date.now()));
  }

  private async runProbe(c: ContainerRecord, cmd: string[], timeoutMs: number): Promise<ProbeResult> {
    const start = new Date().toISOString();
    try {
      const r = await this.execs.probe(c.Id, cmd, timeoutMs);
      const out = cutOutput(r.output, r.more);
      const Output = r.timedOut ? `Health check exceeded timeout (${goDuration(timeoutMs)})${out ? `: ${out}` : ''}` : out;
      return { Start: start, End: new Date().toISOString(), ExitCode: r.timedOut ? -1 : r.exitCode, Output };
    } catch (e) {
      // As dockerd: a probe that could not run is a failure whose output says why.
      return { Start: start, End: new Date().toISOString(), ExitCode: -1, Output: errorMessage(e) };
    }
  }

  private checkpointSoon(): void {
    if (this.checkpointTimer || this.closed) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      // Not fsynced: a crash of the host may lose the last seconds of history, never a record.
      void atomicWriteJson(this.checkpointFile, this.checkpoint(), false).catch((e) => this.logger.warn('health checkpoint', { error: errorMessage(e) }));
    }, SAVE_EVERY_MS);
  }

  private checkpoint(): Checkpoint {
    const out: Checkpoint = {};
    for (const c of this.containers.store.all()) if (c.State.Running && c.State.Health) out[c.Id] = { run: c.State.StartedAt, health: c.State.Health };
    return out;
  }

  /**
   * --health-on-failure: what an unhealthy container gets. A container that
   * never gets healthy again is restarted after a growing wait (100 ms,
   * doubling, at most a minute), as the restart policy backs off.
   */
  private act(c: ContainerRecord): void {
    const action = (c.HostConfig.HealthOnFailure ?? 'none') as HealthAction;
    if (action === 'none') return;
    const heals = this.heals.get(c.Id) ?? 0;
    this.heals.set(c.Id, heals + 1);
    const waitMs = action === 'restart' ? healBackoffMs(heals) : 0;
    this.logger.info('unhealthy container', { id: c.Id, action, waitMs });
    const run = this.runs.get(c.Id);
    setTimeout(() => {
      // Healthy again, stopped or restarted by someone meanwhile: nothing to heal.
      if (this.runs.get(c.Id) !== run || this.containers.store.find(c.Id)?.State.Health?.Status !== 'unhealthy') return;
      const done =
        action === 'kill' ? this.containers.killUnhealthy(c.Id) : action === 'restart' ? this.containers.restart(c.Id, undefined, true) : this.containers.stop(c.Id);
      void done.catch((e) => this.logger.warn(`health-on-failure ${action}`, { id: c.Id, error: errorMessage(e) }));
    }, waitMs);
  }
}
