// `berth compose watch` and `up --watch`: services kept in step with their sources (the `develop.watch` rules).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BerthError, errorMessage, invalidArgument } from '../../base/errors';
import { ignorePatterns } from '../../base/dockerignore';
import { type BatchPlan, Debouncer, planBatch, type WatchRule, watchRules } from '../../compose/develop';
import { execIn, syncInto } from '../../compose/develop-sync';
import { Label } from '../../compose/labels';
import { act } from '../../compose/lifecycle';
import { projectContainers } from '../../compose/resources';
import type { Project, Service } from '../../compose/spec/model';
import { up as bringUp } from '../../compose/up';
import { f } from '../command';
import { bool, type Parsed } from '../flags';
import { buildService } from './build';
import type { ComposeCommand, ComposeContext } from './project';
import { report } from './report';

/** How long changes must pause before a batch is acted on (docker compose's half second). */
const QUIET_MS = 500;

/** The build context's .dockerignore, read as a build reads it (what a build does not send triggers nothing). */
function readDockerignore(s: Service): string[] {
  const file = path.join(s.build!.context, '.dockerignore');
  return fs.existsSync(file) ? ignorePatterns(fs.readFileSync(file, 'utf8')) : [];
}

const list = (names: string[]) => `[${names.map((n) => JSON.stringify(n)).join(', ')}]`;

/**
 * Watches the rules' paths and acts on each batch of changes in turn:
 * rebuilds (the image built, the containers replaced), syncs (files copied
 * in, removed ones removed), restarts, exec hooks. A batch that fails is
 * told and the watch goes on, as docker compose's does.
 */
export class WatchSession {
  private readonly watchers: fs.FSWatcher[] = [];
  private readonly debouncer = new Debouncer(QUIET_MS, (paths) => this.enqueue(paths));
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ComposeContext,
    private readonly project: Project,
    private readonly rules: WatchRule[],
    private readonly o: { prune: boolean; quiet: boolean },
  ) {}

  private say(line: string): void {
    if (!this.o.quiet) process.stdout.write(`⦿ ${line}\n`);
  }

  /** `initial_sync` rules copy their whole path in first; then the paths are watched. */
  async start(): Promise<void> {
    const initial = this.rules.filter((r) => r.trigger.initial_sync && r.trigger.action.startsWith('sync'));
    if (initial.length) await this.act({ rebuild: [], restart: [], exec: new Map(), sync: planBatch(initial, initial.map((r) => r.trigger.path)).sync });
    for (const root of new Set(this.rules.map((r) => r.trigger.path))) {
      let st: fs.Stats;
      try {
        st = fs.statSync(root);
      } catch (e) {
        throw invalidArgument(`cannot watch ${root}: ${errorMessage(e)}`);
      }
      // A file is watched through its folder: editors replace files rather than write them.
      const dir = st.isDirectory() ? root : path.dirname(root);
      const w = fs.watch(dir, { recursive: st.isDirectory() }, (_event, name) => {
        if (name === null) return;
        const full = path.join(dir, name.toString());
        if (st.isDirectory() || full === root) this.debouncer.add(full);
      });
      w.on('error', (e) => process.stderr.write(`watch of ${root} failed: ${errorMessage(e)}\n`));
      this.watchers.push(w);
    }
    this.say('Watch enabled');
  }

  private enqueue(paths: string[]): void {
    this.chain = this.chain.then(() => this.act(planBatch(this.rules, paths))).catch((e) => {
      process.stderr.write(`✘ the changes were not applied: ${errorMessage(e)}\n`);
    });
  }

  /** Waits for the batch in hand, if any (tests, and a clean stop). */
  settled(): Promise<void> {
    return this.chain;
  }

  private async containersOf(service: string): Promise<string[]> {
    return (await projectContainers(this.ctx.api, this.project.name)).filter((c) => c.Labels[Label.service] === service && c.State === 'running').map((c) => c.Id);
  }

  private async act(plan: BatchPlan): Promise<void> {
    if (plan.rebuild.length) await this.rebuild(plan.rebuild);
    for (const [service, files] of plan.sync) {
      const ids = await this.containersOf(service);
      if (!ids.length) continue;
      const { copied, removed } = await syncInto(this.ctx.api, ids, files);
      this.say(`Synced service "${service}" after ${files.length} change${files.length === 1 ? '' : 's'}: ${copied} path${copied === 1 ? '' : 's'} copied, ${removed} removed`);
    }
    if (plan.restart.length) {
      const errors = await act(this.ctx.api, this.project, 'restart', plan.restart, { parallel: this.ctx.parallel }, this.ctx.progress);
      if (errors.length) throw invalidArgument(errors.join('; '));
      this.say(`service(s) ${list(plan.restart)} restarted`);
    }
    for (const [service, rules] of plan.exec) {
      for (const r of rules) {
        const x = r.trigger.exec!;
        const env = Object.entries(x.environment).map(([k, v]) => (v === null ? k : `${k}=${v}`));
        for (const id of await this.containersOf(service)) {
          const out = await execIn(this.ctx.api, id, x.command, { user: x.user, privileged: x.privileged, workdir: x.working_dir, env });
          if (out.output && !this.o.quiet) process.stdout.write(out.output);
          if (out.code !== 0) throw invalidArgument(`service "${service}": ${x.command.join(' ')} exited ${out.code}`);
        }
      }
    }
  }

  /** The images built again, then the services' containers replaced with them; with --prune, the images they leave unused removed. */
  private async rebuild(services: string[]): Promise<void> {
    this.say(`Rebuilding service(s) ${list(services)} after changes were detected...`);
    const before = new Map<string, string>();
    for (const s of services) {
      const id = await this.imageId(this.project.services[s].image!);
      if (id) before.set(s, id);
      await buildService(this.ctx, this.project.services[s], {});
    }
    this.say(`service(s) ${list(services)} successfully built`);
    const r = await bringUp(this.ctx.api, this.project, {
      services, noDeps: true, forceRecreate: true, parallel: this.ctx.parallel, pull: 'never', pullImage: (i) => this.ctx.pullImage(i),
    }, this.ctx.progress);
    if (report(r)) throw invalidArgument(`service(s) ${list(services)} did not start after the rebuild`);
    if (!this.o.prune) return;
    for (const [s, old] of before) {
      if (old === (await this.imageId(this.project.services[s].image!))) continue;
      await this.ctx.api.call('DELETE', `/images/${old}`).catch((e) => {
        // Still used by another tag or container: it stays, as docker's prune leaves it.
        if (!(e instanceof BerthError && e.code === 'conflict')) throw e;
      });
    }
  }

  private async imageId(ref: string): Promise<string | undefined> {
    try {
      return (await this.ctx.api.json<{ Id: string }>('GET', `/images/${encodeURIComponent(ref)}/json`)).Id;
    } catch (e) {
      if (e instanceof BerthError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  close(): void {
    this.debouncer.close();
    for (const w of this.watchers) w.close();
  }
}

/** A watch session for `up --watch` and `watch`, its rules checked before anything is made. */
export function watchSession(ctx: ComposeContext, project: Project, services: string[], p: Parsed): WatchSession {
  return new WatchSession(ctx, project, watchRules(project, services, readDockerignore), { prune: bool(p, 'prune'), quiet: bool(p, 'quiet') });
}

/** Until Ctrl-C or SIGTERM. */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/**
 * `watch [SERVICE...]`: the services brought up (built where they build),
 * then kept in step with their sources until Ctrl-C; `--no-up` watches what
 * already runs.
 */
export const watch: ComposeCommand = {
  flags: [f('no-up'), f('prune'), f('quiet')],
  usage: 'compose watch [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const project = ctx.project(p.args);
    const session = watchSession(ctx, project, p.args, p);
    if (!bool(p, 'no-up')) {
      const r = await bringUp(ctx.api, project, {
        services: p.args, parallel: ctx.parallel, pull: 'missing', pullImage: (i) => ctx.pullImage(i), buildImage: (s) => buildService(ctx, s, {}),
      }, ctx.progress);
      const rc = report(r);
      if (rc) return rc;
    }
    await session.start();
    try {
      await untilInterrupted();
    } finally {
      session.close();
      await session.settled();
    }
    return 0;
  },
};
