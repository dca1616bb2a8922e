import * as path from 'node:path';
import { invalidArgument } from '../../base/errors';
import type { Service } from '../../compose/spec/model';
import { sendBuild } from '../build';
import { f } from '../command';
import { bool, list } from '../flags';
import type { ComposeCommand, ComposeContext } from './project';

/** A service's image from its `build:`, as `berth build` sends it; the steps go to stderr (stdout stays the command's). */
export async function buildService(ctx: ComposeContext, s: Service, o: { noCache?: boolean; pull?: boolean; quiet?: boolean; args?: Record<string, string> }): Promise<void> {
  const b = s.build;
  if (!b) throw invalidArgument(`service "${s.name}" has no build section`);
  if (/^[a-z]+:\/\/|^git@/.test(b.context)) throw invalidArgument(`service "${s.name}": a remote build context (${b.context}) is not supported; clone it and name the folder`);
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.args)) {
    // A bare argument takes the shell's value, or is left to the Dockerfile's default.
    if (v !== null) args[k] = v;
    else if (process.env[k] !== undefined) args[k] = process.env[k]!;
  }
  await sendBuild(ctx.api, {
    dir: b.context,
    file: b.dockerfile ? path.resolve(b.context, b.dockerfile) : undefined,
    tags: [s.image!, ...(b.tags ?? [])],
    buildArgs: { ...args, ...o.args },
    labels: b.labels,
    target: b.target,
    noCache: o.noCache,
    pull: o.pull,
    network: b.network,
    cacheFrom: b.cache_from,
    quiet: o.quiet,
    tty: false,
    out: o.quiet ? { write: () => true } as unknown as NodeJS.WritableStream : process.stderr,
  });
}

export const build: ComposeCommand = {
  flags: [f('no-cache'), f('pull'), f('quiet', 'bool', 'q'), f('build-arg', 'list')],
  usage: 'compose build [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const project = ctx.project(p.args);
    const wanted = Object.values(project.services).filter((s) => s.build && (!p.args.length || p.args.includes(s.name)));
    for (const n of p.args) if (!project.services[n]) throw invalidArgument(`no such service: ${n}`);
    const args = Object.fromEntries(list(p, 'build-arg').map((x) => (x.includes('=') ? [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)] : [x, process.env[x] ?? ''])));
    for (const s of wanted) {
      ctx.progress({ kind: 'Image', name: s.image!, service: s.name, step: 'Building' });
      await buildService(ctx, s, { noCache: bool(p, 'no-cache'), pull: bool(p, 'pull'), quiet: bool(p, 'quiet'), args });
      ctx.progress({ kind: 'Image', name: s.image!, service: s.name, step: 'Built' });
    }
  },
};
