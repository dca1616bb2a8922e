import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CommandError, run } from '../base/exec';
import { BerthError, conflict, internal, notFound } from '../base/errors';
import type { LinuxResources } from '../oci/runtime-spec';

export interface RuntimeState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
}

/**
 * A runc-compatible OCI runtime CLI (runc, crun) with its own state root,
 * so two daemons never see each other's containers.
 */
export class OciRuntime {
  constructor(
    readonly name: string,
    readonly path: string,
    readonly root: string,
  ) {}

  private async call(args: string[], input?: string): Promise<string> {
    try {
      return (await run(this.path, ['--root', this.root, ...args], { input })).stdout;
    } catch (e) {
      throw runtimeError(this.name, e);
    }
  }

  /** runc and crun keep a container's state in <root>/<id>: without it there is nothing to ask (and no process to spawn). */
  private known(id: string): boolean {
    return existsSync(path.join(this.root, id));
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    if (!this.known(id)) return undefined;
    try {
      return JSON.parse(await this.call(['state', id])) as RuntimeState;
    } catch (e) {
      if (e instanceof BerthError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  async start(id: string): Promise<void> {
    await this.call(['start', id]);
  }

  async kill(id: string, signal: string | number, all = false): Promise<void> {
    await this.call(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
  }

  async delete(id: string, force = false): Promise<void> {
    if (!this.known(id)) return;
    try {
      await this.call(['delete', ...(force ? ['--force'] : []), id]);
    } catch (e) {
      if (!(e instanceof BerthError && e.code === 'not_found')) throw e;
    }
  }

  async pause(id: string): Promise<void> {
    await this.call(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.call(['resume', id]);
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    await this.call(['update', '--resources', '-', id], JSON.stringify(resources));
  }

  async ps(id: string): Promise<number[]> {
    const out = await this.call(['ps', '--format', 'json', id]);
    return (JSON.parse(out) as number[] | null) ?? [];
  }

  async list(): Promise<RuntimeState[]> {
    const out = await this.call(['list', '--format', 'json']);
    return (JSON.parse(out) as RuntimeState[] | null) ?? [];
  }
}

/** Maps the runtime's complaints to domain errors with its own words. */
export function runtimeError(name: string, e: unknown): BerthError {
  if (!(e instanceof CommandError)) return internal(`${name}: ${String(e)}`, e);
  const msg = cleanRuntimeMessage(e.stderr);
  if (/does not exist|not found|no such container/i.test(msg) && !/executable file/.test(msg)) return notFound(`${name}: ${msg}`);
  if (/not running|is paused|not paused|cannot (start|pause|resume)|already/i.test(msg)) return conflict(`${name}: ${msg}`);
  return internal(`${name}: ${msg}`, e);
}

/** runc prints logrus lines (`time=... level=error msg="..."`); keep the message. */
export function cleanRuntimeMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const msgs = lines.map((l) => {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
    return m ? m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\') : l;
  });
  return msgs.join('; ') || 'failed';
}
