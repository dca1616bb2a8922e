import { invalidArgument } from '../base/errors';
import type { ContainerRecord } from './model';

/** docker's HumanDuration: "Less than a second", "About a minute", "3 hours", ... */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** The Status column of `docker ps`. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const st = c.State;
  const since = (t: string) => humanDuration(now - Date.parse(t));
  switch (st.Status) {
    case 'running':
      return `Up ${since(st.StartedAt)}`;
    case 'paused':
      return `Up ${since(st.StartedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${st.ExitCode}) ${since(st.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return `Exited (${st.ExitCode}) ${since(st.FinishedAt)} ago`;
    default:
      return 'Created';
  }
}

/** Docker's filters arrive as {"k":["v"]} or, from old clients, {"k":{"v":true}}. */
export function parseFilters(raw: string | undefined): Record<string, string[]> {
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalidArgument(`invalid filter: ${raw}`);
  }
  const out: Record<string, string[]> = {};
  for (const [k, val] of Object.entries((v ?? {}) as Record<string, unknown>)) {
    out[k] = Array.isArray(val) ? val.map(String) : Object.keys(val as object);
  }
  return out;
}

/** The Command column: path and args, as docker quotes them in ps. */
export function commandText(c: ContainerRecord): string {
  return [c.Path, ...c.Args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}
