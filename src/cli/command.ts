// What every command module shares: the command shape, common flags, output helpers.
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BerthError, invalidArgument } from '../base/errors';
import type { ApiClient } from '../client/client';
import { type FlagSpec, list, type Parsed, str } from './flags';
import { humanSize } from './output';
import { compileTemplate } from './template';

export type Run = (api: ApiClient, p: Parsed) => Promise<number | void>;

export interface Command {
  flags: FlagSpec[];
  run: Run;
  /** Arguments after the first positional belong to the command (run, exec). */
  stopAtFirstArg?: boolean;
  minArgs?: number;
  maxArgs?: number;
  usage: string;
}

export const f = (name: string, kind: FlagSpec['kind'] = 'bool', short?: string): FlagSpec => ({ name, kind, short });

export const FORMAT = f('format', 'string');

export const FILTER = f('filter', 'list', 'f');

/** prune commands keep -f for --force, as docker's do. */
export const PRUNE_FILTER = f('filter', 'list');

export function filters(p: Parsed): string | undefined {
  const out: Record<string, string[]> = {};
  for (const x of list(p, 'filter')) {
    const i = x.indexOf('=');
    if (i <= 0) throw invalidArgument(`bad format of filter (expected name=value)`);
    (out[x.slice(0, i)] ??= []).push(x.slice(i + 1));
  }
  return Object.keys(out).length ? JSON.stringify(out) : undefined;
}

export const write = (s: string) => process.stdout.write(s);

/** Runs the same action on each named object, as docker does, reporting errors and going on. */
export async function each(names: string[], fn: (n: string) => Promise<void>): Promise<number> {
  let rc = 0;
  for (const n of names) {
    try {
      await fn(n);
    } catch (e) {
      process.stderr.write(`Error response from daemon: ${(e as Error).message}\n`);
      rc = 1;
    }
  }
  return rc;
}

/** inspect: JSON array, or the format applied to each object. */
export async function inspect(api: ApiClient, p: Parsed, kinds: ('container' | 'image' | 'volume' | 'network')[]): Promise<number> {
  const out: unknown[] = [];
  let rc = 0;
  const type = str(p, 'type');
  const want = type ? kinds.filter((k) => k === type) : kinds;
  for (const name of p.args) {
    let found: unknown;
    for (const k of want) {
      const path = { container: `/containers/${encodeURIComponent(name)}/json`, image: `/images/${name}/json`, volume: `/volumes/${encodeURIComponent(name)}`, network: `/networks/${encodeURIComponent(name)}` }[k];
      try {
        found = await api.json('GET', path);
        break;
      } catch (e) {
        if (!(e instanceof BerthError && e.code === 'not_found')) throw e;
      }
    }
    if (found === undefined) {
      process.stderr.write(`Error: No such object: ${name}\n`);
      rc = 1;
    } else out.push(found);
  }
  const format = str(p, 'format');
  if (format) {
    const tpl = compileTemplate(format.replace(/\\n/g, '\n').replace(/\\t/g, '\t'));
    for (const o of out) write(tpl.execute(o) + '\n');
  } else write(JSON.stringify(out, null, 4) + '\n');
  return rc;
}

/** Prints a JSON progress stream (import, load); an error in it is the command's error. */
export async function progress(lines: AsyncIterable<{ status?: string; stream?: string; error?: string }>): Promise<void> {
  for await (const l of lines) {
    if (l.error) throw new BerthError('internal', l.error);
    if (l.stream) write(l.stream);
    else if (l.status) write(l.status + '\n');
  }
}

/** `repo:tag` → its parts; the tag is what follows the last colon after the last slash. */
export function splitRef(ref: string | undefined): { repo?: string; tag?: string } {
  if (!ref) return {};
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? { repo: ref.slice(0, at), tag: ref.slice(at + 1) } : { repo: ref };
}

export function reportPrune(title: string, items: string[], space: number): void {
  if (items.length) write(`${title}:\n${items.map((i) => i + '\n').join('')}\n`);
  write(`Total reclaimed space: ${humanSize(space)}\n`);
}

export function keyValueList(items: string[]): Record<string, string> {
  return Object.fromEntries(items.map((x) => {
    const i = x.indexOf('=');
    return i < 0 ? [x, ''] : [x.slice(0, i), x.slice(i + 1)];
  }));
}

/** A tar the daemon sends, to a file (whole or not at all) or to stdout. */
export async function saveTo(res: NodeJS.ReadableStream, out: string | undefined): Promise<void> {
  if (!out) return pipeline(res, process.stdout);
  const tmp = `${out}.tmp`;
  await pipeline(res, fs.createWriteStream(tmp));
  fs.renameSync(tmp, out);
}
