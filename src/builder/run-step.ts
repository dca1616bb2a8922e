import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { invalidArgument, isErrno } from '../base/errors';
import { newId } from '../base/ids';
import { resolveIn } from '../base/in-root';
import type { Digest } from '../oci/digest';
import { contextPath } from './context';
import { findSources, sourcesDigest } from './copy';
import type { Heredoc, Instruction } from './dockerfile';
import { DEFAULT_SHELL } from './metadata';
import type { RunMount } from './run-mounts';

/** A mount of a RUN step's container, as the worker makes it. */
export type StepMount =
  | { type: 'bind'; source: string; target: string; readonly: boolean }
  | { type: 'tmpfs'; target: string; size?: number }
  | Extract<RunMount, { type: 'cache' }>
  | { type: 'secret'; target: string; data: Buffer; mode: number; uid: number; gid: number };

/** Where a RUN's here-document script is mounted when it runs by its `#!` line (BuildKit's place). */
export const SCRIPT_DIR = '/dev/pipes';

/** A here-document's text as the program sees it: `<<-` strips leading tabs. */
export const heredocText = (h: Heredoc) => (h.chomp ? h.body.replace(/^\t+/gm, '') : h.body);

/**
 * RUN's command. The exec form as written, the shell form through the
 * shell; with here-documents as BuildKit runs them: `RUN <<EOF` alone runs
 * the document (by its `#!` line when it has one, else with the shell), and
 * any other use hands the shell the whole text, documents included, for the
 * shell to feed them to the command.
 */
export function runCommand(i: Instruction, shell: string[] | undefined): { cmd: string[]; script?: Heredoc } {
  const sh = shell?.length ? shell : DEFAULT_SHELL;
  if (!i.heredocs.length) return { cmd: i.json ?? [...sh, i.args] };
  const [only] = i.heredocs;
  if (i.heredocs.length === 1 && /^\d*<<-?(["']?)[^\s"']+\1$/.test(i.args.trim())) {
    const text = heredocText(only);
    if (text.startsWith('#!')) return { cmd: [`${SCRIPT_DIR}/${only.name}`], script: { ...only, body: text } };
    return { cmd: [...sh, text] };
  }
  const docs = i.heredocs.map((h) => `${h.body}${h.name}\n`).join('');
  return { cmd: [...sh, `${i.args}\n${docs}`] };
}

/** What RUN mounts need from the build. */
export interface MountSources {
  /** The context folder. */
  context: string;
  /** File digests of the context, remembered for the build. */
  hashes: Map<string, string>;
  /** The image a `from=` names (a stage's result, or an image, pulled when missing). */
  image(ref: string): Promise<Digest | undefined>;
  /** fn with a read-only root filesystem of the image. */
  read<T>(image: Digest | undefined, fn: (root: string) => Promise<T>): Promise<T>;
  secrets: Record<string, Buffer>;
  /** A folder for the step's own files (rw copies, scripts), removed after. */
  scratch: string;
}

/**
 * What the cache keys a RUN's mounts on: the options as written, and for
 * a bind the content it shows (the context's files by digest, a stage's or
 * image's by id). Caches, tmpfs and secrets' values are not part of it, as
 * BuildKit's.
 */
export async function mountsKey(mounts: RunMount[], src: MountSources): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const m of mounts) {
    if (m.type !== 'bind') out.push(m);
    else if (m.from) out.push({ ...m, image: await src.image(m.from) });
    else out.push({ ...m, digest: await sourcesDigest(await findSources(src.context, [m.source], true), src.hashes) });
  }
  return out;
}

/**
 * Runs fn with the step's mounts ready: binds resolved inside their root
 * (a stage's or image's held mounted until fn ends), read-write binds as
 * copies whose writes go nowhere, secrets as files or variables, and a
 * here-document script as an executable file.
 */
export async function withMounts<T>(mounts: RunMount[], script: Heredoc | undefined, src: MountSources, fn: (mounts: StepMount[], env: string[]) => Promise<T>): Promise<T> {
  const dir = path.join(src.scratch, `run-${newId().slice(0, 12)}`);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const out: StepMount[] = [];
  const env: string[] = [];
  const visit = async (k: number): Promise<T> => {
    if (k === mounts.length) return fn(out, env);
    const m = mounts[k];
    if (m.type === 'secret') {
      const data = src.secrets[m.id];
      if (!data) {
        if (m.required) throw invalidArgument(`secret ${m.id}: not found (give it with build --secret id=${m.id},src=FILE)`);
        return visit(k + 1);
      }
      if (m.env) env.push(`${m.env}=${data.toString()}`);
      if (m.target) out.push({ type: 'secret', target: m.target, data, mode: m.mode, uid: m.uid, gid: m.gid });
      return visit(k + 1);
    }
    if (m.type !== 'bind') {
      out.push(m);
      return visit(k + 1);
    }
    const bindIn = async (root: string, inContext: boolean) => {
      const host = await resolveIn(root, inContext ? contextPath(m.source) : m.source, true);
      await fsp.stat(host).catch((e) => {
        if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw invalidArgument(`--mount source ${m.source}: not found${inContext ? ' in the build context' : ` in ${m.from}`}`);
        throw e;
      });
      let source = host;
      if (!m.readonly) {
        source = path.join(dir, `rw-${k}`);
        await fsp.cp(host, source, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      }
      out.push({ type: 'bind', source, target: m.target, readonly: m.readonly });
      return visit(k + 1);
    };
    return m.from ? src.read(await src.image(m.from), (root) => bindIn(root, false)) : bindIn(src.context, true);
  };
  try {
    if (script) {
      const file = path.join(dir, 'script');
      await fsp.writeFile(file, script.body, { mode: 0o755 });
      out.push({ type: 'bind', source: file, target: `${SCRIPT_DIR}/${script.name}`, readonly: true });
    }
    return await visit(0);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
