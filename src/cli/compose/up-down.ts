import { BerthError, invalidArgument } from '../../base/errors';
import { attachTargets, type Cascade, ExitCode } from '../../compose/attach';
import { Label } from '../../compose/labels';
import { act, down as takeDown } from '../../compose/lifecycle';
import { projectContainers } from '../../compose/resources';
import { ServiceGraph } from '../../compose/spec/graph';
import { type ServiceResult, targetsOf, up as bringUp, type UpReport } from '../../compose/up';
import { waveView } from './wave-view';
import { watchSession, type WatchSession } from './watch';
import { judgeCondition, ProjectWatch } from '../../compose/watch';
import { f } from '../command';
import { bool, list, type Parsed, str } from '../flags';
import { buildService } from './build';
import { showLogs } from './logs';
import { type ComposeCommand, type ComposeContext, seconds } from './project';
import { report } from './report';
import type { Project, Service } from '../../compose/spec/model';

/** `SERVICE=NUM` pairs (`--scale`, and `scale`'s arguments). */
function scales(pairs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of pairs) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw invalidArgument(`invalid --scale ${JSON.stringify(s)}: SERVICE=NUM`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** `--wait`: every started service running, and healthy where it has a health check. */
async function waitHealthy(ctx: ComposeContext, project: string, results: ServiceResult[], timeoutS?: number): Promise<number> {
  const started = new Set(results.filter((r) => r.state === 'started').map((r) => r.service));
  const containers = (await projectContainers(ctx.api, project)).filter((c) => started.has(c.Labels[Label.service]));
  const watch = new ProjectWatch(ctx.api, project);
  const judge = judgeCondition('service_healthy');
  let timer: NodeJS.Timeout | undefined;
  try {
    const waits = Promise.all(containers.map((c) => watch.until(c.Id, (st) => (st.Config.Healthcheck?.Test && st.Config.Healthcheck.Test[0] !== 'NONE' ? judge(st) : st.State.Running ? { done: true } : { failed: `container ${st.Name.slice(1)} exited with code ${st.State.ExitCode}` }))));
    const timeout = timeoutS === undefined ? new Promise<never>(() => {}) : new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutS * 1000)));
    const out = await Promise.race([waits, timeout]);
    if (out === 'timeout') {
      process.stderr.write(`✘ not healthy within ${timeoutS}s\n`);
      return 1;
    }
    const bad = out.filter((v): v is { failed: string } => 'failed' in v);
    for (const b of bad) process.stderr.write(`✘ ${b.failed}\n`);
    return bad.length ? 1 : 0;
  } finally {
    if (timer) clearTimeout(timer);
    watch.close();
  }
}

/** `--pull`: when images are pulled (`policy`: the services' own, else `missing`). */
function pullPolicy(p: Parsed): 'always' | 'missing' | 'never' {
  const pull = str(p, 'pull') ?? 'missing';
  if (!['always', 'missing', 'never', 'policy'].includes(pull)) throw invalidArgument(`invalid --pull ${JSON.stringify(pull)}: always, missing or never`);
  return pull === 'policy' ? 'missing' : (pull as 'always' | 'missing' | 'never');
}

/** What `up` and `create` share: the services named, recreation, orphans, scale, images. */
function convergeOptions(ctx: ComposeContext, p: Parsed, pull: 'always' | 'missing' | 'never') {
  if (bool(p, 'build') && bool(p, 'no-build')) throw invalidArgument('--build and --no-build are incompatible');
  if (bool(p, 'force-recreate') && bool(p, 'no-recreate')) throw invalidArgument('--force-recreate and --no-recreate are incompatible');
  return {
    services: p.args,
    forceRecreate: bool(p, 'force-recreate'),
    noRecreate: bool(p, 'no-recreate'),
    removeOrphans: bool(p, 'remove-orphans'),
    scale: scales(list(p, 'scale')),
    parallel: ctx.parallel,
    pull,
    pullImage: (image: string) => ctx.pullImage(image),
    build: bool(p, 'build'),
    buildImage: bool(p, 'no-build') ? undefined : (s: Service) => buildService(ctx, s, {}),
  };
}

/** `create`: the containers of the services (and what they need), made in order and left stopped. */
export const create: ComposeCommand = {
  flags: [f('build'), f('no-build'), f('pull', 'string'), f('quiet-pull'), f('scale', 'list'), f('force-recreate'), f('no-recreate'), f('remove-orphans')],
  usage: 'compose create [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const project = ctx.project(p.args);
    return report(await bringUp(ctx.api, project, { ...convergeOptions(ctx, p, pullPolicy(p)), noStart: true }, ctx.progress));
  },
};

/** `scale SERVICE=NUM...`: those services to that many containers, the others left as they are. */
export const scale: ComposeCommand = {
  flags: [f('no-deps')],
  usage: 'compose scale [OPTIONS] SERVICE=NUM...',
  minArgs: 1,
  run: async (ctx, p) => {
    const want = Object.entries(scales(p.args));
    const project = ctx.project(want.map(([svc]) => svc));
    const r = await bringUp(ctx.api, project, {
      services: want.map(([svc]) => svc), scale: Object.fromEntries(want), noRecreate: true, noDeps: bool(p, 'no-deps'),
      parallel: ctx.parallel, pull: 'missing', pullImage: (image) => ctx.pullImage(image), buildImage: (s) => buildService(ctx, s, {}),
    }, ctx.progress);
    return report(r);
  },
};

export const up: ComposeCommand = {
  flags: [
    f('detach', 'bool', 'd'), f('wait'), f('wait-timeout', 'string'), f('build'), f('no-build'), f('pull', 'string'), f('quiet-pull'), f('scale', 'list'),
    f('no-deps'), f('with-dependents'), f('force-recreate'), f('no-recreate'), f('remove-orphans'), f('timeout', 'string', 't'), f('no-start'), f('no-log-prefix'),
    f('abort-on-container-exit'), f('abort-on-container-failure'), f('exit-code-from', 'string'), f('attach', 'list'), f('no-attach', 'list'), f('attach-dependencies'), f('watch', 'bool', 'w'), f('prune'),
  ],
  usage: 'compose up [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    if (bool(p, 'build') && bool(p, 'no-build')) throw invalidArgument('--build and --no-build are incompatible');
    if (bool(p, 'no-start') && bool(p, 'wait')) throw invalidArgument('--no-start and --wait are incompatible');
    const pull = pullPolicy(p);
    const project = ctx.project(p.args);
    const cascade = cascadeOf(p, project);
    // What is attached to and the watch rules are checked before anything is made.
    const show = attachTargets(project, { services: p.args, attach: list(p, 'attach'), noAttach: list(p, 'no-attach'), dependencies: bool(p, 'attach-dependencies') });
    const session = bool(p, 'watch') ? watchSession(ctx, project, p.args, p) : undefined;
    const base = ctx.base();
    // On a terminal the graph's waves are drawn and redrawn; elsewhere, a line per step.
    const graph = new ServiceGraph(Object.values(project.services));
    const view = process.stderr.isTTY && ctx.progressMode !== 'plain' && !bool(p, 'no-start') ? waveView(process.stderr, graph.waves(targetsOf(graph, { services: p.args, noDeps: bool(p, 'no-deps'), base, withDependents: bool(p, 'with-dependents') }))) : undefined;
    let r: UpReport;
    try {
      r = await bringUp(ctx.api, project, {
        ...convergeOptions(ctx, p, pull),
        noDeps: bool(p, 'no-deps'),
        timeout: seconds(p, 'timeout'),
        base,
        withDependents: bool(p, 'with-dependents'),
        noStart: bool(p, 'no-start'),
      }, view?.progress ?? ctx.progress);
    } finally {
      view?.finish();
    }
    const rc = report(r);
    if (rc || bool(p, 'no-start')) return rc;
    if (bool(p, 'wait')) return waitHealthy(ctx, project.name, r.results, seconds(p, 'wait-timeout'));
    if (bool(p, 'detach')) return 0;
    return attached(ctx, project, r.results.map((x) => x.service), new Set(show), p, cascade, session);
  },
};

/**
 * `up` without -d: the output of the services attached until every watched
 * container has ended, or until Ctrl-C or an exit under a cascade
 * (`--abort-on-container-exit|failure`, `--exit-code-from`) stops them all.
 */
async function attached(ctx: ComposeContext, project: Project, started: string[], show: Set<string>, p: Parsed, o: { cascade: Cascade; exitCodeFrom?: string }, session?: WatchSession): Promise<number> {
  // As docker compose: the services named are watched, else those attached.
  const watched = new Set(p.args.length ? p.args : show);
  const cs = (await projectContainers(ctx.api, project.name)).filter((c) => started.includes(c.Labels[Label.service]));
  const abort = new AbortController();
  const exit = new ExitCode(o.cascade, o.exitCodeFrom);
  let stopping: Promise<unknown> | undefined;
  let interrupted = false;
  const stop = (why: string) => {
    if (stopping) return;
    process.stderr.write(`${why}\n`);
    stopping = act(ctx.api, project, 'stop', started, { parallel: ctx.parallel, timeout: seconds(p, 'timeout') }, ctx.progress).finally(() => abort.abort());
  };
  const interrupt = () => {
    interrupted = true;
    stop('Gracefully stopping... (press Ctrl+C again to force)');
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    await session?.start();
    const follow = showLogs(ctx.api, cs.filter((c) => show.has(c.Labels[Label.service])), { follow: true, prefix: !bool(p, 'no-log-prefix') }, abort.signal);
    const ends = cs.filter((c) => watched.has(c.Labels[Label.service])).map(async (c) => {
      let code: number;
      try {
        code = (await ctx.api.json<{ StatusCode: number }>('POST', `/containers/${c.Id}/wait`)).StatusCode;
      } catch (e) {
        if (e instanceof BerthError && e.code === 'not_found') return; // removed by hand: nothing to tell
        throw e;
      }
      if (!interrupted && exit.exited(c.Labels[Label.service], code)) stop('Aborting on container exit...');
    });
    await Promise.all([follow, ...ends]);
    await stopping;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    session?.close();
    await session?.settled();
  }
  return interrupted ? 130 : exit.code;
}

/** `up`'s cascade flags, checked as docker compose checks them. */
function cascadeOf(p: Parsed, project: Project): { cascade: Cascade; exitCodeFrom?: string } {
  const exitCodeFrom = str(p, 'exit-code-from');
  const onFailure = bool(p, 'abort-on-container-failure');
  const onExit = bool(p, 'abort-on-container-exit') || (exitCodeFrom !== undefined && !onFailure);
  if (onExit && onFailure) throw invalidArgument('--abort-on-container-failure and --abort-on-container-exit are mutually exclusive');
  if (exitCodeFrom !== undefined && !project.services[exitCodeFrom]) throw invalidArgument(`--exit-code-from: no such service: ${exitCodeFrom}`);
  const cascade: Cascade = onExit ? 'stop' : onFailure ? 'fail' : 'ignore';
  const attaching = cascade !== 'ignore' || list(p, 'attach').length > 0 || bool(p, 'attach-dependencies') || bool(p, 'watch');
  for (const mode of ['detach', 'wait', 'no-start']) {
    if (attaching && bool(p, mode)) throw invalidArgument(`--${mode} cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --exit-code-from, --attach, --attach-dependencies or --watch`);
  }
  return { cascade, exitCodeFrom };
}

export const down: ComposeCommand = {
  flags: [f('volumes', 'bool', 'v'), f('rmi', 'string'), f('remove-orphans'), f('timeout', 'string', 't')],
  usage: 'compose down [OPTIONS]',
  run: async (ctx, p) => {
    const rmi = str(p, 'rmi');
    if (rmi !== undefined && rmi !== 'all' && rmi !== 'local') throw invalidArgument(`invalid --rmi ${JSON.stringify(rmi)}: all or local`);
    const { name, project } = ctx.projectOrName();
    const errors = await takeDown(ctx.api, name, project, { volumes: bool(p, 'volumes'), removeOrphans: bool(p, 'remove-orphans'), rmi: rmi as 'all' | 'local' | undefined, timeout: seconds(p, 'timeout'), parallel: ctx.parallel }, ctx.progress);
    for (const e of errors) process.stderr.write(`Error: ${e}\n`);
    return errors.length ? 1 : 0;
  },
};

