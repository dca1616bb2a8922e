import { invalidArgument } from '../../base/errors';
import type { HealthConfig } from '../../oci/image';
import type { Health, ProbeResult } from '../model';

export type { Health, ProbeResult };

/** docker's defaults (daemon/health.go); a zero in the config means the default. */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 };
const MAX_LOG = 5;
/** Output kept of one probe, as docker keeps it (then `...`). */
export const MAX_OUTPUT = 4096;

/** What --health-on-failure does when a container turns unhealthy (podman's names). */
export type HealthAction = 'none' | 'kill' | 'restart' | 'stop';
export const HEALTH_ACTIONS: HealthAction[] = ['none', 'kill', 'restart', 'stop'];

export interface HealthTimes {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? Math.round(ns / 1e6) : dflt);

export function healthTimes(hc: HealthConfig): HealthTimes {
  return {
    intervalMs: ms(hc.Interval, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: ms(hc.Timeout, HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: ms(hc.StartPeriod, HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: ms(hc.StartInterval, HEALTH_DEFAULTS.startIntervalMs),
    retries: hc.Retries && hc.Retries > 0 ? hc.Retries : HEALTH_DEFAULTS.retries,
  };
}

/**
 * The probe's command: `CMD` as written, `CMD-SHELL` through the
 * container's shell; none for `NONE`, an empty test, or a type docker does
 * not know (it warns and probes nothing).
 */
export function probeCommand(hc: HealthConfig | undefined, shell: string[] | undefined): string[] | undefined {
  const [kind, ...rest] = hc?.Test ?? [];
  if (!rest.length) return undefined;
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return [...(shell?.length ? shell : ['/bin/sh', '-c']), ...rest];
  return undefined;
}

/**
 * A probe's result applied as docker applies it: the log keeps the last
 * five; a success makes the container healthy and ends the failing streak;
 * a failure (any other exit code, a timeout) adds to the streak, except
 * while a container that has not yet been healthy is in its start period,
 * and at `retries` failures in a row the container is unhealthy.
 */
export function applyProbe(h: Health, r: ProbeResult, t: HealthTimes, startedAt: string): Health {
  const Log = [...h.Log, r].slice(-MAX_LOG);
  if (r.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  const inStartPeriod = h.Status === 'starting' && Date.parse(r.Start) - Date.parse(startedAt) < t.startPeriodMs;
  if (inStartPeriod) return { ...h, Log };
  const FailingStreak = h.FailingStreak + 1;
  return { Status: FailingStreak >= t.retries ? 'unhealthy' : h.Status, FailingStreak, Log };
}

/** The wait before the next probe: the start interval while a container in its start period is still starting, else the interval. */
export function nextProbeDelay(h: Health, t: HealthTimes, startedAt: string, now: number): number {
  const inStartPeriod = now - Date.parse(startedAt) < t.startPeriodMs;
  return inStartPeriod && h.Status === 'starting' ? t.startIntervalMs : t.intervalMs;
}

/** dockerd's checks of a health check's values (400 with its messages), and Berth's of --health-on-failure. */
export function validateHealthcheck(hc: HealthConfig | undefined, onFailure: string | undefined): void {
  for (const [name, v] of [['Interval', hc?.Interval], ['Timeout', hc?.Timeout], ['StartPeriod', hc?.StartPeriod], ['StartInterval', hc?.StartInterval]] as const) {
    if (v != null && v !== 0 && v < 1e6) throw invalidArgument(`${name} in Healthcheck cannot be less than 1ms`);
  }
  if (hc?.Retries != null && hc.Retries < 0) throw invalidArgument('Retries in Healthcheck cannot be negative');
  const kind = hc?.Test?.[0];
  if (kind !== undefined && !['CMD', 'CMD-SHELL', 'NONE'].includes(kind)) throw invalidArgument(`unknown health check type ${kind}: CMD, CMD-SHELL or NONE`);
  if (onFailure !== undefined && onFailure !== '' && !HEALTH_ACTIONS.includes(onFailure as HealthAction)) throw invalidArgument(`invalid health-on-failure action "${onFailure}": none, kill, restart or stop`);
}

/** A probe's output as docker keeps it: the first 4096 bytes, then `...` when there was more. */
export function cutOutput(out: Buffer, more: boolean): string {
  const cut = out.length > MAX_OUTPUT || more;
  return out.subarray(0, MAX_OUTPUT).toString('utf8') + (cut ? '...' : '');
}

/** Go's time.Duration text (`30s`, `1m30s`, `500ms`, `1h0m0s`), as docker's timeout message prints it. */
export function goDuration(msTotal: number): string {
  if (msTotal < 1000) return `${msTotal}ms`;
  const s = msTotal / 1000;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = +(s % 60).toFixed(3);
  if (h) return `${h}h${m}m${sec}s`;
  if (m) return `${m}m${sec}s`;
  return `${sec}s`;
}

/** docker's status text suffix: `(healthy)`, `(unhealthy)`, `(health: starting)`. */
export function healthText(h: Health | undefined): string {
  if (!h) return '';
  return h.Status === 'starting' ? ' (health: starting)' : ` (${h.Status})`;
}

/** The wait before the n-th health restart in a row (from 0, none healthy between): none, then 100 ms doubling, at most a minute. */
export function healBackoffMs(n: number): number {
  return n === 0 ? 0 : Math.min(60_000, 100 * 2 ** Math.min(n - 1, 10));
}
