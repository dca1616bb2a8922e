import { healthText } from '../containers/health-rules';
import { humanDuration } from '../../base/duration';
import { invalidArgument } from '../../base/errors';
import type { ContainerRecord } from '../model';

/** The Status column of `docker ps`. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const st = c.State;
  const since = (t: string) => humanDuration(now - Date.parse(t));
  switch (st.Status) {
    case 'running':
      return `Up ${since(st.StartedAt)}${healthText(st.Health)}`;
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

/** A `label=k` or `label=k=v` filter against labels. */
export function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  if (i < 0) return filter in labels;
  return labels[filter.slice(0, i)] === filter.slice(i + 1);
}

/** The Command column: path and args, as docker quotes them in ps. */
export function commandText(c: ContainerRecord): string {
  return [c.Path, ...c.Args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}
