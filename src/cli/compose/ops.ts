// Commands that act on a project's containers: start, stop, ..., exec, run, pull.
import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../../base/errors';
import { createBody } from '../../compose/create-body';
import { Label } from '../../compose/labels';
import { type Action, act, down as takeDown } from '../../compose/lifecycle';
import { projectContainers } from '../../compose/resources';
import { up } from '../../compose/up';
import { placeGrants } from '../../compose/grants';
import { checkGrants } from '../../compose/spec/references';
import type { Service } from '../../compose/spec/model';
import { containerCmds } from '../container-commands';
import { f } from '../command';
import { bool, list, type Parsed, str } from '../flags';
import { startCreated } from '../run';
import type { ComposeCommand, ComposeContext } from './project';
import { pullImage, seconds } from './up-down';
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
      const r = await up(ctx.api, project, { services: needs, parallel: ctx.parallel, pull: 'missing', pullImage: (i) => pullImage(ctx, i) }, ctx.progress);
      const bad = r.results.find((x) => x.state !== 'started');
      if (bad) throw invalidArgument(`dependency ${bad.service} did not start: ${bad.cause}`);
    }
    const tty = !bool(p, 'no-TTY') && process.stdin.isTTY === true;
    const oneoff: Service = { ...s, ports: bool(p, 'service-ports') ? s.ports : [], restart: undefined, tty, stdin_open: true };
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
    if (list(p, 'publish').length) throw invalidArgument('run --publish: not done yet; use --service-ports');
    (body.HostConfig as Record<string, unknown>).AutoRemove = bool(p, 'rm');
    const { Id } = await ctx.api.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
    await placeGrants(ctx.api, Id, project, oneoff);
    return startCreated(ctx.api, Id, { detach: bool(p, 'detach'), tty, interactive: !bool(p, 'detach'), rm: bool(p, 'rm') });
  },
};

export const pull: ComposeCommand = {
  flags: [f('quiet', 'bool', 'q'), f('ignore-pull-failures'), f('include-deps')],
  usage: 'compose pull [OPTIONS] [SERVICE...]',
  run: async (ctx: ComposeContext, p) => {
    const project = ctx.project(p.args);
    const images = new Set(Object.values(project.services).filter((s) => !p.args.length || p.args.includes(s.name)).map((s) => s.image).filter((i): i is string => !!i));
    let rc = 0;
    await Promise.all([...images].map(async (image) => {
      ctx.progress({ kind: 'Image', name: image, step: 'Pulling' });
      try {
        await pullImage(ctx, image);
        ctx.progress({ kind: 'Image', name: image, step: 'Pulled' });
      } catch (e) {
        ctx.progress({ kind: 'Image', name: image, step: 'Error', detail: (e as Error).message });
        if (!bool(p, 'ignore-pull-failures')) rc = 1;
      }
    }));
    return rc;
  },
};
