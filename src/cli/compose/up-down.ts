import { invalidArgument } from '../../base/errors';
import { Label } from '../../compose/labels';
import { act, down as takeDown } from '../../compose/lifecycle';
import { projectContainers } from '../../compose/resources';
import { ServiceGraph } from '../../compose/spec/graph';
import { type ServiceResult, targetsOf, up as bringUp, type UpReport } from '../../compose/up';
import { waveView } from './wave-view';
import { judgeCondition, ProjectWatch } from '../../compose/watch';
import { registryAuthHeader, serverOf } from '../credentials';
import { f } from '../command';
import { bool, list, type Parsed, str } from '../flags';
import { buildService } from './build';
import { showLogs } from './logs';
import type { ComposeCommand, ComposeContext } from './project';
import type { Service } from '../../compose/spec/model';

export function seconds(p: Parsed, n: string): number | undefined {
  const v = str(p, n);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw invalidArgument(`invalid --${n} ${JSON.stringify(v)}: a whole number of seconds`);
  return x;
}

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

/** Pulls as `berth pull` does, with the registry's saved credentials; the progress is `up`'s. */
export async function pullImage(ctx: ComposeContext, image: string): Promise<void> {
  const at = image.lastIndexOf(':');
  const [fromImage, tag] = at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest'];
  for await (const m of ctx.api.jsonLines<{ error?: string }>('POST', '/images/create', { query: { fromImage, tag }, headers: registryAuthHeader(serverOf(image)) })) {
    if (m.error) throw invalidArgument(m.error);
  }
}

/** The end of `up`: what failed and why, and what did not start because of it. Returns the exit code. */
export function report(r: UpReport): number {
  const failed = r.results.filter((x) => x.state === 'failed');
  const blocked = r.results.filter((x) => x.state === 'blocked');
  for (const o of r.orphans.length ? [r.orphans] : []) {
    process.stderr.write(`WARN Found orphan containers (${o.join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`);
  }
  if (!failed.length && !blocked.length) return 0;
  const by = new Map<string, ServiceResult[]>();
  for (const b of blocked) by.set(b.blockedBy!, [...(by.get(b.blockedBy!) ?? []), b]);
  for (const x of failed) {
    process.stderr.write(`✘ service "${x.service}" failed: ${x.cause}\n`);
    const kept = by.get(x.service) ?? [];
    if (kept.length) process.stderr.write(`  not started because of it: ${kept.map((k) => k.service).sort().join(', ')}\n`);
    by.delete(x.service);
  }
  // Services kept back by a dependency that started but then failed its condition (unhealthy, exited).
  for (const [dep, kept] of by) {
    process.stderr.write(`✘ service "${dep}" did not meet its condition: ${kept[0].cause}\n  not started because of it: ${kept.map((k) => k.service).sort().join(', ')}\n`);
  }
  const ok = r.results.filter((x) => x.state === 'started' || x.state === 'created').length;
  process.stderr.write(`${ok} of ${r.results.length} services started; 'berth compose down' removes what was made\n`);
  return 1;
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
    pullImage: (image: string) => pullImage(ctx, image),
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
      parallel: ctx.parallel, pull: 'missing', pullImage: (image) => pullImage(ctx, image), buildImage: (s) => buildService(ctx, s, {}),
    }, ctx.progress);
    return report(r);
  },
};

export const up: ComposeCommand = {
  flags: [
    f('detach', 'bool', 'd'), f('wait'), f('wait-timeout', 'string'), f('build'), f('no-build'), f('pull', 'string'), f('quiet-pull'), f('scale', 'list'),
    f('no-deps'), f('with-dependents'), f('force-recreate'), f('no-recreate'), f('remove-orphans'), f('timeout', 'string', 't'), f('no-start'), f('abort-on-container-exit'), f('no-log-prefix'),
  ],
  usage: 'compose up [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    if (bool(p, 'build') && bool(p, 'no-build')) throw invalidArgument('--build and --no-build are incompatible');
    if (bool(p, 'no-start') && (bool(p, 'wait') || bool(p, 'abort-on-container-exit'))) throw invalidArgument(`--no-start and --${bool(p, 'wait') ? 'wait' : 'abort-on-container-exit'} are incompatible`);
    const pull = pullPolicy(p);
    const project = ctx.project(p.args);
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
    return attached(ctx, project.name, r.results.map((x) => x.service), p);
  },
};

/** `up` without -d: the services' output until they all end, or until Ctrl-C stops them. */
async function attached(ctx: ComposeContext, project: string, services: string[], p: Parsed): Promise<number> {
  const cs = (await projectContainers(ctx.api, project)).filter((c) => services.includes(c.Labels[Label.service]));
  const abort = new AbortController();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
    void act(ctx.api, ctx.project(), 'stop', services, { parallel: ctx.parallel }, ctx.progress).finally(() => abort.abort());
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const follow = showLogs(ctx.api, cs, { follow: true, prefix: !bool(p, 'no-log-prefix') }, abort.signal);
    if (bool(p, 'abort-on-container-exit')) {
      const watch = new ProjectWatch(ctx.api, project);
      await Promise.race(cs.map((c) => watch.until(c.Id, (s) => (s.State.Running ? undefined : { done: true }))));
      watch.close();
      stop();
    }
    await follow;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return stopping ? 130 : 0;
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

