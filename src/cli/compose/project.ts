// What every `berth compose` command shares: the project options, loading the files, output.
import { errorMessage, invalidArgument } from '../../base/errors';
import type { ApiClient } from '../../client/client';
import { loadProject, type LoadOptions } from '../../compose/spec/load';
import type { Project } from '../../compose/spec/model';
import { lineProgress, type Progress } from '../../compose/progress';
import { f } from '../command';
import { registryAuthHeader, serverOf } from '../credentials';
import { list, type Parsed, str } from '../flags';

/** Options of `berth compose` itself, before its command (as docker compose's). */
export const PROJECT_FLAGS = [
  f('file', 'list', 'f'),
  f('project-name', 'string', 'p'),
  f('project-directory', 'string'),
  f('env-file', 'list'),
  f('profile', 'list'),
  f('parallel', 'string'),
  f('progress', 'string'),
  f('ansi', 'string'),
  f('compatibility'),
  // Berth's: a layered environment on this base project (see `up`).
  f('base', 'string'),
];

/** A compose command: its own flags, and what it needs of the project. */
export interface ComposeCommand {
  flags: ReturnType<typeof f>[];
  usage: string;
  /** Arguments after the first belong to the command (exec, run). */
  stopAtFirstArg?: boolean;
  minArgs?: number;
  run: (ctx: ComposeContext, p: Parsed) => Promise<number | void>;
}

export class ComposeContext {
  private loaded?: Project;

  constructor(
    readonly api: ApiClient,
    readonly global: Parsed,
  ) {}

  /** `--progress`: auto (the default), tty, or plain lines. */
  get progressMode(): string {
    const v = str(this.global, 'progress') ?? 'auto';
    if (!['auto', 'tty', 'plain', 'quiet'].includes(v)) throw invalidArgument(`invalid --progress ${JSON.stringify(v)}: auto, tty, plain or quiet`);
    return v;
  }

  /** How many services act at once (`--parallel`, COMPOSE_PARALLEL_LIMIT; -1: no limit). */
  get parallel(): number {
    const v = str(this.global, 'parallel') ?? process.env.COMPOSE_PARALLEL_LIMIT;
    if (v === undefined) return 64;
    const n = Number(v);
    if (!Number.isInteger(n) || n === 0 || n < -1) throw invalidArgument(`invalid --parallel ${JSON.stringify(v)}: a positive number, or -1 for no limit`);
    return n === -1 ? Number.MAX_SAFE_INTEGER : n;
  }

  /** The project from its files; services named on the command line enable their profiles. */
  project(services: string[] = []): Project {
    this.loaded ??= loadProject({ ...this.options(), services });
    return this.loaded;
  }

  private options(): LoadOptions {
    return {
      files: list(this.global, 'file'),
      projectName: str(this.global, 'project-name'),
      projectDir: str(this.global, 'project-directory'),
      envFiles: list(this.global, 'env-file'),
      profiles: list(this.global, 'profile'),
      env: process.env,
      cwd: process.cwd(),
    };
  }

  /** The base environment of a layered one (`--base NAME`): the same files under the base's name. */
  base(): Project | undefined {
    const name = str(this.global, 'base');
    if (name === undefined) return undefined;
    const p = this.project();
    if (name === p.name) throw invalidArgument(`an environment cannot be its own base (${name})`);
    return loadProject({ ...this.options(), projectName: name, services: [] });
  }

  /**
   * The project's name for commands that work from labels alone (down, ps,
   * ls, logs): `-p`, else the files' name. Files that cannot be read are
   * then no obstacle when a name was given.
   */
  projectOrName(): { name: string; project?: Project } {
    const name = str(this.global, 'project-name');
    if (name && !list(this.global, 'file').length) {
      try {
        const p = this.project();
        if (p.name === name) return { name, project: p };
      } catch (e) {
        // No files here: `-p NAME` alone names the project, as docker compose allows.
        if (!/^no configuration file provided/.test(errorMessage(e))) throw e;
      }
      return { name };
    }
    const p = this.project();
    return { name: p.name, project: p };
  }

  /** Pulls as `berth pull` does, with the registry's saved credentials; the progress is the command's. */
  async pullImage(image: string): Promise<void> {
    const at = image.lastIndexOf(':');
    const [fromImage, tag] = at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest'];
    for await (const m of this.api.jsonLines<{ error?: string }>('POST', '/images/create', { query: { fromImage, tag }, headers: registryAuthHeader(serverOf(image)) })) {
      if (m.error) throw invalidArgument(m.error);
    }
  }

  private lines?: Progress;

  /** A line per step on stderr (nothing with --progress quiet). */
  get progress(): Progress {
    this.lines ??= this.progressMode === 'quiet' ? () => {} : lineProgress(process.stderr);
    return this.lines;
  }
}

export function seconds(p: Parsed, n: string): number | undefined {
  const v = str(p, n);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw invalidArgument(`invalid --${n} ${JSON.stringify(v)}: a whole number of seconds`);
  return x;
}
