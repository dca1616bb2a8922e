import type { ApiClient } from '../client/client';
import { BerthError } from '../base/errors';
import { Label } from './labels';

/** What `docker inspect` says of a container, as far as compose waits on it. */
export interface ContainerState {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Error?: string; Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] } };
  Config: { Healthcheck?: { Test?: string[] } };
}

/** A wait's verdict on a container's state: done, failed (why), or not yet. */
export type Verdict = { done: true } | { failed: string } | undefined;

/**
 * Waits on containers of one project through the daemon's event stream
 * (one stream for the whole project, whatever the number of waits): each
 * event of a waited container has it inspected again; a slow look every few
 * seconds covers a stream that broke.
 */
export class ProjectWatch {
  private readonly waits = new Map<string, Set<() => void>>();
  private readonly abort = new AbortController();
  private readonly ready: Promise<void>;

  constructor(private readonly api: ApiClient, project: string) {
    let ready!: () => void;
    this.ready = new Promise((r) => (ready = r));
    void this.follow(project, ready);
  }

  private async follow(project: string, ready: () => void): Promise<void> {
    const filters = JSON.stringify({ type: ['container'], label: [`${Label.project}=${project}`] });
    try {
      const res = await this.api.request('GET', '/events', { query: { filters }, signal: this.abort.signal });
      ready(); // the daemon answers once it has subscribed: events from here on are seen
      let buf = '';
      for await (const chunk of res) {
        buf += chunk.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          const e = line ? (JSON.parse(line) as { Actor?: { ID: string }; id?: string }) : undefined;
          const id = e?.Actor?.ID ?? e?.id;
          if (id) for (const wake of this.waits.get(id) ?? []) wake();
        }
      }
    } catch {
      // The stream ended (closed, or the daemon went away): the periodic looks go on alone.
    }
    ready();
  }

  /** Inspects the container until `judge` decides; returns its verdict. */
  async until(id: string, judge: (c: ContainerState) => Verdict): Promise<{ done: true } | { failed: string }> {
    await this.ready;
    for (;;) {
      let woken = false;
      let wake!: () => void;
      const next = new Promise<void>((r) => (wake = () => { woken = true; r(); }));
      const set = this.waits.get(id) ?? new Set();
      this.waits.set(id, set.add(wake));
      try {
        let c: ContainerState;
        try {
          c = await this.api.json<ContainerState>('GET', `/containers/${id}/json`);
        } catch (e) {
          if (e instanceof BerthError && e.code === 'not_found') return { failed: `container ${id.slice(0, 12)} was removed` };
          throw e;
        }
        const v = judge(c);
        if (v) return v;
        if (!woken) await Promise.race([next, new Promise((r) => setTimeout(r, 3000).unref())]);
      } finally {
        set.delete(wake);
        if (!set.size) this.waits.delete(id);
      }
    }
  }

  close(): void {
    this.abort.abort();
  }
}

/** A container's last health check, as the reports say it: `check exited 1: its output`. */
export function lastCheck(c: ContainerState): string | undefined {
  const log = c.State.Health?.Log;
  const last = log?.[log.length - 1];
  if (!last) return undefined;
  const out = last.Output.trim();
  return `check exited ${last.ExitCode}${out ? `: ${out.slice(0, 200)}` : ''}`;
}

const name = (c: ContainerState) => c.Name.replace(/^\//, '');

/** A dependency's condition on one of its containers, judged as docker compose judges it. */
export function judgeCondition(condition: string): (c: ContainerState) => Verdict {
  return (c) => {
    const s = c.State;
    if (condition === 'service_completed_successfully') {
      if (s.Status !== 'exited' && s.Status !== 'dead') return undefined;
      return s.ExitCode === 0 ? { done: true } : { failed: `container ${name(c)} exited with code ${s.ExitCode}` };
    }
    if (condition === 'service_healthy') {
      const test = c.Config.Healthcheck?.Test;
      if (!test || test[0] === 'NONE') return { failed: `container ${name(c)} has no healthcheck configured` };
      if (s.Health?.Status === 'healthy') return { done: true };
      if (s.Health?.Status === 'unhealthy') {
        const last = lastCheck(c);
        return { failed: `container ${name(c)} is unhealthy${last ? ` (its last ${last})` : ''}` };
      }
      if (!s.Running && s.Status !== 'restarting') return { failed: `container ${name(c)} exited with code ${s.ExitCode} before it was healthy` };
      return undefined;
    }
    if (s.Running || s.Status === 'exited' && s.ExitCode === 0) return { done: true };
    if (s.Status === 'restarting') return undefined;
    return { failed: `container ${name(c)} is ${s.Status}${s.Status === 'exited' ? ` (code ${s.ExitCode})` : ''}${s.Error ? `: ${s.Error}` : ''}` };
  };
}
