// Commands that act on a project's containers: start, stop, ..., exec, run, pull.
import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../../base/errors';
import { createBody } from '../../compose/create-body';
import { Label } from '../../compose/labels';
import { type Action, act, down as takeDown } from '../../compose/lifecycle';
import { type ContainerSummary, nameOf, projectContainers } from '../../compose/resources';
import { cp as copy, splitContainerPath } from '../cp';
import { targetsOf, up } from '../../compose/up';
import { ServiceGraph } from '../../compose/spec/graph';
import { familiarString, parseReference } from '../../oci/reference';
import { pushAuthHeader, serverOf } from '../credentials';
import { placeGrants } from '../../compose/grants';
import { checkGrants } from '../../compose/spec/references';
import { parsePort } from '../../compose/spec/normalize';
import type { Service } from '../../compose/spec/model';
import { containerCmds } from '../container-commands';
import { f } from '../command';
import { bool, list, type Parsed, str } from '../flags';
import { startCreated } from '../run';
import { type ComposeCommand, type ComposeContext, seconds } from './project';
import { serviceContainer } from './views';

function lifecycle(action: Action, flags: ComposeCommand['flags'], usage: string): ComposeCommand {
  return {
    flags,
    usage,
    run: async (ctx, p) => {
      if (action === 'rm' && !bool(p, 'force') && !bool(p, 'stop')) {
        // docker compose asks; without a terminal to ask on, -f is the answer.
        if (!process.stdin.isTTY) throw invalidArgument('compose rm removes stopped containers: give -f to confirm (no terminal to ask on)');
      }
      const project = ctx.project();
      const o = { timeout: seconds(p, 'timeout'), signal: str(p, 'signal'), parallel: ctx.parallel, volumes: bool(p, 'volumes') };
      if (action === 'rm' && bool(p, 'stop')) await act(ctx.api, project, 'stop', p.args, o, ctx.progress);
      const errors = await act(ctx.api, project, action, p.args, o, ctx.progress);
      for (const e of errors) process.stderr.write(`Error: ${e}\n`);
      return errors.length ? 1 : 0;
    },
  };
}

const TIMEOUT = f('timeout', 'string', 't');

export const lifecycleCmds: Record<string, ComposeCommand> = {
  start: lifecycle('start', [], 'compose start [SERVICE...]'),
  stop: lifecycle('stop', [TIMEOUT], 'compose stop [OPTIONS] [SERVICE...]'),
  restart: lifecycle('restart', [TIMEOUT, f('no-deps')], 'compose restart [OPTIONS] [SERVICE...]'),
  kill: lifecycle('kill', [f('signal', 'string', 's'), f('remove-orphans')], 'compose kill [OPTIONS] [SERVICE...]'),
  pause: lifecycle('pause', [], 'compose pause [SERVICE...]'),
  unpause: lifecycle('unpause', [], 'compose unpause [SERVICE...]'),
  rm: lifecycle('rm', [f('force', 'bool', 'f'), f('stop', 'bool', 's'), f('volumes', 'bool', 'v')], 'compose rm [OPTIONS] [SERVICE...]'),
};

/**
 * `wait [SERVICE...]`: until the containers of those services (or all) have
 * stopped; the exit code is that of the first to stop. With
 * `--down-project`, the project goes down as soon as one stops.
 */
export const wait: ComposeCommand = {
  flags: [f('down-project')],
  usage: 'compose wait [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const { name, project } = ctx.projectOrName();
    for (const s of p.args) if (project && !project.services[s]) throw invalidArgument(`no such service: ${s}`);
    const cs = (await projectContainers(ctx.api, name)).filter((c) => !p.args.length || p.args.includes(c.Labels[Label.service]));
    if (!cs.length) throw invalidArgument(`no containers to wait for in project ${name}`);
    let first: number | undefined;
    const ends = cs.map((c) => ctx.api.json<{ StatusCode: number }>('POST', `/containers/${c.Id}/wait`).then(async (r) => {
      if (first !== undefined) return;
      first = r.StatusCode;
      if (!bool(p, 'down-project')) return;
      const errors = await takeDown(ctx.api, name, project, { parallel: ctx.parallel }, ctx.progress);
      for (const e of errors) process.stderr.write(`Error: ${e}\n`);
    }));
    // Down, the others end too (their waits answer as they are removed).
    await (bool(p, 'down-project') ? Promise.race(ends).then(() => Promise.allSettled(ends)) : Promise.all(ends));
    return first ?? 0;
  },
};

export const exec: ComposeCommand = {
  flags: [f('detach', 'bool', 'd'), f('no-TTY', 'bool', 'T'), f('env', 'list', 'e'), f('user', 'string', 'u'), f('workdir', 'string', 'w'), f('privileged'), f('index', 'string'), f('interactive', 'bool', 'i')],
  usage: 'compose exec [OPTIONS] SERVICE COMMAND [ARGS...]',
  stopAtFirstArg: true,
  minArgs: 2,
  run: async (ctx, p) => {
    const [service, ...cmd] = p.args;
    const c = await serviceContainer(ctx, service, p);
    const tty = !bool(p, 'no-TTY') && process.stdin.isTTY === true;
    const parsed: Parsed = {
      flags: { tty, interactive: !bool(p, 'detach'), detach: bool(p, 'detach'), env: list(p, 'env'), user: str(p, 'user'), workdir: str(p, 'workdir'), privileged: bool(p, 'privileged') },
      args: [c.Id, ...cmd],
    };
    return containerCmds.exec.run(ctx.api, parsed);
  },
};

/** `attach SERVICE`: a service's container (`--index`, else the first), as `berth attach` attaches. */
export const attach: ComposeCommand = {
  flags: [f('index', 'string'), f('no-stdin'), f('sig-proxy', 'bool'), f('detach-keys', 'string')],
  usage: 'compose attach [OPTIONS] SERVICE',
  minArgs: 1,
  run: async (ctx, p) => {
    const c = await serviceContainer(ctx, p.args[0], p);
    return containerCmds.attach.run(ctx.api, { flags: p.flags, args: [c.Id] });
  },
};

/**
 * `cp SERVICE:SRC DEST` and `cp SRC SERVICE:DEST`: out of the service's first
 * container (or `--index`'s), into all of its containers (or `--index`'s; with
 * `--all`, its one-off containers too), as docker compose copies.
 */
export const cp: ComposeCommand = {
  flags: [f('index', 'string'), f('all'), f('archive', 'bool', 'a'), f('follow-link', 'bool', 'L')],
  usage: 'compose cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n        berth compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH',
  minArgs: 2,
  run: async (ctx, p) => {
    if (p.args.length > 2) throw invalidArgument('"berth compose cp" requires exactly 2 arguments');
    const [srcArg, destArg] = p.args;
    const src = splitContainerPath(srcArg);
    const dest = splitContainerPath(destArg);
    if (src && dest) throw invalidArgument('copying between services is not supported');
    const at = src ?? dest;
    if (!at) throw invalidArgument('must specify at least one service: SERVICE:PATH');
    const { name } = ctx.projectOrName();
    let targets: ContainerSummary[];
    if (str(p, 'index') !== undefined) targets = [await serviceContainer(ctx, at.container, p)];
    else {
      targets = (await projectContainers(ctx.api, name, { oneoff: bool(p, 'all') })).filter((c) => c.Labels[Label.service] === at.container);
      if (!targets.length) throw invalidArgument(`no container found for service "${at.container}"`);
      if (src) targets = targets.slice(0, 1);
    }
    for (const c of targets) {
      const step = src ? `${nameOf(c)}:${src.path} to ${destArg}` : `${srcArg} to ${nameOf(c)}:${dest!.path}`;
      ctx.progress({ kind: 'Container', name: nameOf(c), step: 'Copying', detail: step });
      await copy(ctx.api, src ? `${c.Id}:${src.path}` : srcArg, dest ? `${c.Id}:${dest.path}` : destArg, bool(p, 'archive'));
      ctx.progress({ kind: 'Container', name: nameOf(c), step: 'Copied', detail: step });
    }
  },
};

/**
 * `run SERVICE [COMMAND]`: a one-off container of the service (compose's
 * oneoff label, named `project-service-run-<id>`), after what it needs is up.
 */
export const run: ComposeCommand = {
  flags: [
    f('detach', 'bool', 'd'), f('rm'), f('name', 'string'), f('entrypoint', 'string'), f('env', 'list', 'e'), f('user', 'string', 'u'), f('workdir', 'string', 'w'),
    f('no-TTY', 'bool', 'T'), f('interactive', 'bool', 'i'), f('no-deps'), f('publish', 'list', 'p'), f('service-ports'), f('label', 'list', 'l'), f('pull', 'string'),
  ],
  usage: 'compose run [OPTIONS] SERVICE [COMMAND] [ARGS...]',
  stopAtFirstArg: true,
  minArgs: 1,
  run: async (ctx, p) => {
    const [service, ...cmd] = p.args;
    const project = ctx.project([service]);
    const s = project.services[service];
    if (!s) throw invalidArgument(`no such service: ${service}`);
    checkGrants(project, [service]);
    const needs = Object.keys(s.depends_on);
    if (!bool(p, 'no-deps') && needs.length) {
      const r = await up(ctx.api, project, { services: needs, parallel: ctx.parallel, pull: 'missing', pullImage: (i) => ctx.pullImage(i) }, ctx.progress);
      const bad = r.results.find((x) => x.state !== 'started');
      if (bad) throw invalidArgument(`dependency ${bad.service} did not start: ${bad.cause}`);
    }
    const tty = !bool(p, 'no-TTY') && process.stdin.isTTY === true;
    // As docker compose: the service's ports only with --service-ports, and those of -p besides.
    const ports = [...(bool(p, 'service-ports') ? s.ports : []), ...list(p, 'publish').flatMap((x) => parsePort(x))];
    const oneoff: Service = { ...s, ports, restart: undefined, tty, stdin_open: true };
    if (cmd.length) oneoff.command = cmd;
    const ep = str(p, 'entrypoint');
    if (ep !== undefined) oneoff.entrypoint = ep ? [ep] : [];
    for (const e of list(p, 'env')) {
      const i = e.indexOf('=');
      oneoff.environment = { ...oneoff.environment, [i < 0 ? e : e.slice(0, i)]: i < 0 ? process.env[e] ?? '' : e.slice(i + 1) };
    }
    if (str(p, 'user')) oneoff.user = str(p, 'user');
    if (str(p, 'workdir')) oneoff.working_dir = str(p, 'workdir');
    const { body } = createBody(project, oneoff, 1, (svc) => `${project.name}-${svc}-1`);
    const labels = body.Labels as Record<string, string>;
    labels[Label.oneoff] = 'True';
    for (const l of list(p, 'label')) labels[l.split('=')[0]] = l.slice(l.indexOf('=') + 1);
    const name = str(p, 'name') ?? `${project.name}-${service}-run-${randomBytes(6).toString('hex')}`;
    (body.HostConfig as Record<string, unknown>).AutoRemove = bool(p, 'rm');
    const { Id } = await ctx.api.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
    await placeGrants(ctx.api, Id, project, oneoff);
    return startCreated(ctx.api, Id, { detach: bool(p, 'detach'), tty, interactive: !bool(p, 'detach'), rm: bool(p, 'rm') });
  },
};

/** Each image by `move` at once, its steps as progress lines; a failure fails the command unless ignored. */
async function eachImage(ctx: ComposeContext, images: Set<string>, verb: [string, string], move: (image: string) => Promise<void>, ignoreFailures: boolean): Promise<number> {
  let rc = 0;
  await Promise.all([...images].map(async (image) => {
    ctx.progress({ kind: 'Image', name: image, step: verb[0] });
    try {
      await move(image);
      ctx.progress({ kind: 'Image', name: image, step: verb[1] });
    } catch (e) {
      ctx.progress({ kind: 'Image', name: image, step: ignoreFailures ? 'Warning' : 'Error', detail: (e as Error).message });
      if (!ignoreFailures) rc = 1;
    }
  }));
  return rc;
}

/** The services named (all when none), with what they depend on when asked. */
function chosen(ctx: ComposeContext, p: Parsed, withDeps: boolean): Service[] {
  const project = ctx.project(p.args);
  for (const n of p.args) if (!project.services[n]) throw invalidArgument(`no such service: ${n}`);
  if (!p.args.length) return Object.values(project.services);
  const names = new Set(withDeps ? targetsOf(new ServiceGraph(Object.values(project.services)), { services: p.args }) : p.args);
  return [...names].map((n) => project.services[n]);
}

export const pull: ComposeCommand = {
  flags: [f('quiet', 'bool', 'q'), f('ignore-pull-failures'), f('include-deps')],
  usage: 'compose pull [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const images = new Set(chosen(ctx, p, bool(p, 'include-deps')).map((s) => s.image).filter((i): i is string => !!i));
    return eachImage(ctx, images, ['Pulling', 'Pulled'], (i) => ctx.pullImage(i), bool(p, 'ignore-pull-failures'));
  },
};

/**
 * `push [SERVICE...]`: the images of services that are built (`build:` and
 * `image:`), to their registries with the saved credentials, as docker
 * compose pushes them; services that only run an image are skipped.
 */
export const push: ComposeCommand = {
  flags: [f('quiet', 'bool', 'q'), f('ignore-push-failures'), f('include-deps')],
  usage: 'compose push [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const images = new Set(chosen(ctx, p, bool(p, 'include-deps')).filter((s) => s.build && s.image).flatMap((s) => [s.image!, ...(s.build!.tags ?? [])]));
    return eachImage(ctx, images, ['Pushing', 'Pushed'], (i) => pushImage(ctx, i), bool(p, 'ignore-push-failures'));
  },
};

async function pushImage(ctx: ComposeContext, image: string): Promise<void> {
  const ref = parseReference(image);
  if (ref.digest) throw invalidArgument(`cannot push a digest reference: ${image}`);
  let digest: string | undefined;
  for await (const m of ctx.api.jsonLines<{ error?: string; aux?: { Digest?: string } }>('POST', `/images/${familiarString({ ...ref, tag: undefined })}/push`, { query: { tag: ref.tag }, headers: pushAuthHeader(serverOf(image)) })) {
    if (m.error) throw invalidArgument(m.error);
    digest ??= m.aux?.Digest;
  }
  if (!digest) throw invalidArgument(`${image}: the push ended without a digest`);
}
