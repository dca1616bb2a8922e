// Commands that show a project: ps, ls, config, images, port, top, events.
import * as fs from 'node:fs';
import { stringify } from 'yaml';
import { invalidArgument } from '../../base/errors';
import { COMPOSE_VERSION, configHash, Label } from '../../compose/labels';
import { type ContainerSummary, nameOf, numberOf, projectContainers } from '../../compose/resources';
import type { Project, Service } from '../../compose/spec/model';
import { graphDot, graphSvg, graphText } from '../../compose/render-graph';
import { projectGraph } from '../../compose/status';
import { f, write } from '../command';
import { portsText } from '../container-commands';
import { bool, type Parsed, str } from '../flags';
import { ago, humanSize, shortCommand } from '../output';
import { renderFormat, tabulate } from '../template';
import type { ComposeCommand, ComposeContext } from './project';

const row = (c: ContainerSummary) => ({
  ID: c.Id.slice(0, 12),
  Name: nameOf(c),
  Image: c.Image,
  Command: shortCommand(c.Command, false),
  Service: c.Labels[Label.service],
  Project: c.Labels[Label.project],
  RunningFor: ago(c.Created),
  CreatedAt: new Date(c.Created * 1000).toISOString(),
  State: c.State,
  Status: c.Status,
  Health: /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace('health: ', '') ?? '',
  Ports: portsText(c.Ports),
  Labels: c.Labels,
});

export const ps: ComposeCommand = {
  flags: [f('all', 'bool', 'a'), f('quiet', 'bool', 'q'), f('services'), f('format', 'string'), f('filter', 'list'), f('status', 'list'), f('no-trunc')],
  usage: 'compose ps [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const { name } = ctx.projectOrName();
    const statuses = [...(p.flags.status as string[]), ...(p.flags.filter as string[]).map((x) => /^status=(.*)$/.exec(x)?.[1]).filter((x): x is string => !!x)];
    let cs = await projectContainers(ctx.api, name, { all: bool(p, 'all') || statuses.length > 0 });
    if (p.args.length) cs = cs.filter((c) => p.args.includes(c.Labels[Label.service]));
    if (statuses.length) cs = cs.filter((c) => statuses.includes(c.State));
    if (bool(p, 'quiet')) return void write(cs.map((c) => `${bool(p, 'no-trunc') ? c.Id : c.Id.slice(0, 12)}\n`).join(''));
    if (bool(p, 'services')) return void write([...new Set(cs.map((c) => c.Labels[Label.service]))].map((s) => `${s}\n`).join(''));
    const format = str(p, 'format') ?? 'table';
    if (format === 'json') return void write(cs.map((c) => JSON.stringify(row(c)) + '\n').join(''));
    const table = 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}';
    write(renderFormat(format === 'table' ? table : format, cs.map(row), { Name: 'NAME', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', ID: 'CONTAINER ID', State: 'STATE', Health: 'HEALTH', Project: 'PROJECT' }));
  },
};

/** compose's project status: `running(3), exited(1)`. */
function statusText(cs: ContainerSummary[]): string {
  const by = new Map<string, number>();
  for (const c of cs) by.set(c.State, (by.get(c.State) ?? 0) + 1);
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}(${n})`).join(', ');
}

function healthText(cs: ContainerSummary[]): string {
  const by = new Map<string, number>();
  for (const c of cs) {
    const h = row(c).Health;
    if (h) by.set(h, (by.get(h) ?? 0) + 1);
  }
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${n} ${s}`).join(', ') || '-';
}

/** `version`: compose's own version, as docker compose prints its (`--short`, `--format json`). */
export const version: ComposeCommand = {
  flags: [f('short'), f('format', 'string', 'f')],
  usage: 'compose version [OPTIONS]',
  run: async (_ctx, p) => {
    const format = str(p, 'format') ?? 'pretty';
    if (format !== 'pretty' && format !== 'json') throw invalidArgument(`invalid --format ${JSON.stringify(format)}: pretty or json`);
    if (bool(p, 'short')) write(`${COMPOSE_VERSION}\n`);
    else if (format === 'json') write(`${JSON.stringify({ version: `v${COMPOSE_VERSION}` })}\n`);
    else write(`Berth Compose version v${COMPOSE_VERSION}\n`);
    return 0;
  },
};

export const ls: ComposeCommand = {
  flags: [f('all', 'bool', 'a'), f('quiet', 'bool', 'q'), f('format', 'string'), f('filter', 'list')],
  usage: 'compose ls [OPTIONS]',
  run: async (ctx, p) => {
    const all = await ctx.api.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: true, filters: JSON.stringify({ label: [Label.project] }) } });
    const projects = new Map<string, ContainerSummary[]>();
    for (const c of all) projects.set(c.Labels[Label.project], [...(projects.get(c.Labels[Label.project]) ?? []), c]);
    const names = (p.flags.filter as string[]).map((x) => /^name=(.*)$/.exec(x)?.[1]).filter((x): x is string => !!x);
    const rows = [...projects].sort(([a], [b]) => a.localeCompare(b))
      .filter(([, cs]) => bool(p, 'all') || cs.some((c) => c.State === 'running'))
      .filter(([n]) => !names.length || names.some((x) => n.includes(x)))
      .map(([n, cs]) => ({
        Name: n,
        Status: statusText(cs),
        Services: new Set(cs.map((c) => c.Labels[Label.service])).size,
        Health: healthText(cs),
        Age: ago(Math.min(...cs.map((c) => c.Created))),
        Base: cs.find((c) => c.Labels[Label.base])?.Labels[Label.base] ?? '',
        ConfigFiles: cs[0].Labels[Label.configFiles] ?? '',
      }));
    if (bool(p, 'quiet')) return void write(rows.map((r) => `${r.Name}\n`).join(''));
    const format = str(p, 'format') ?? 'table';
    if (format === 'json') return void write(JSON.stringify(rows) + '\n');
    const table = 'table {{.Name}}\t{{.Status}}\t{{.Services}}\t{{.Health}}\t{{.Age}}\t{{.Base}}\t{{.ConfigFiles}}';
    write(renderFormat(format === 'table' ? table : format, rows, { Name: 'NAME', Status: 'STATUS', Services: 'SERVICES', Health: 'HEALTH', Age: 'CREATED', Base: 'BASE', ConfigFiles: 'CONFIG FILES' }));
  },
};

/** A service as `config` prints it: the canonical form, without empty fields. */
function printable(s: Service): Record<string, unknown> {
  const { name: _n, ...rest } = s;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && !(Array.isArray(v) && !v.length) && !(v && typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length)));
}

function canonical(p: Project): Record<string, unknown> {
  const out: Record<string, unknown> = { name: p.name, services: Object.fromEntries(Object.entries(p.services).sort(([a], [b]) => a.localeCompare(b)).map(([n, s]) => [n, printable(s)])) };
  if (Object.keys(p.networks).length) out.networks = p.networks;
  if (Object.keys(p.volumes).length) out.volumes = p.volumes;
  return out;
}

export const config: ComposeCommand = {
  flags: [f('services'), f('volumes'), f('networks'), f('profiles'), f('images'), f('quiet', 'bool', 'q'), f('format', 'string'), f('hash', 'string'), f('output', 'string', 'o'), f('no-interpolate')],
  usage: 'compose config [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const project = ctx.project(p.args);
    if (bool(p, 'quiet')) return;
    const names = (o: object) => write(Object.keys(o).sort().map((s) => `${s}\n`).join(''));
    if (bool(p, 'services')) return void names(project.services);
    if (bool(p, 'volumes')) return void names(project.volumes);
    if (bool(p, 'networks')) return void names(project.networks);
    if (bool(p, 'profiles')) return void write([...new Set(Object.values({ ...project.services, ...project.disabled }).flatMap((s) => s.profiles))].sort().map((s) => `${s}\n`).join(''));
    if (bool(p, 'images')) return void write(Object.values(project.services).map((s) => `${s.image}\n`).join(''));
    const hash = str(p, 'hash');
    if (hash !== undefined) {
      const names = hash === '*' ? Object.keys(project.services) : hash.split(',');
      for (const n of names) {
        if (!project.services[n]) throw invalidArgument(`no such service: ${n}`);
        write(`${n} ${configHash(project.services[n])}\n`);
      }
      return;
    }
    const model = canonical(project);
    if (p.args.length) model.services = Object.fromEntries(Object.entries(model.services as object).filter(([n]) => p.args.includes(n)));
    const text = str(p, 'format') === 'json' ? JSON.stringify(model, null, 2) + '\n' : stringify(model, { aliasDuplicateObjects: false });
    if (str(p, 'output')) fs.writeFileSync(str(p, 'output')!, text);
    else write(text);
  },
};

export const images: ComposeCommand = {
  flags: [f('quiet', 'bool', 'q'), f('format', 'string')],
  usage: 'compose images [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const { name } = ctx.projectOrName();
    let cs = await projectContainers(ctx.api, name);
    if (p.args.length) cs = cs.filter((c) => p.args.includes(c.Labels[Label.service]));
    const rows = await Promise.all(cs.map(async (c) => {
      const img = await ctx.api.json<{ Id: string; Size: number; RepoTags?: string[] }>('GET', `/images/${c.ImageID}/json`);
      const at = c.Image.lastIndexOf(':');
      const [repo, tag] = at > c.Image.lastIndexOf('/') ? [c.Image.slice(0, at), c.Image.slice(at + 1)] : [c.Image, 'latest'];
      return { Container: nameOf(c), Repository: repo, Tag: tag, ID: img.Id.replace(/^sha256:/, '').slice(0, 12), Size: humanSize(img.Size) };
    }));
    if (bool(p, 'quiet')) return void write([...new Set(rows.map((r) => r.ID))].map((i) => `${i}\n`).join(''));
    if (str(p, 'format') === 'json') return void write(JSON.stringify(rows) + '\n');
    write(renderFormat('table {{.Container}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}', rows, { Container: 'CONTAINER', Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', Size: 'SIZE' }));
  },
};

/** The container number `--index` of a service (1 by default). */
export async function serviceContainer(ctx: ComposeContext, service: string, p: Parsed, oneoff = false): Promise<ContainerSummary> {
  const { name } = ctx.projectOrName();
  const index = Number(str(p, 'index') ?? 1);
  const cs = (await projectContainers(ctx.api, name, { oneoff })).filter((c) => c.Labels[Label.service] === service);
  const c = cs.find((x) => numberOf(x) === index);
  if (!c) throw invalidArgument(cs.length ? `service "${service}" has no container number ${index}` : `service "${service}" is not running`);
  return c;
}

export const port: ComposeCommand = {
  flags: [f('protocol', 'string'), f('index', 'string')],
  usage: 'compose port [OPTIONS] SERVICE PRIVATE_PORT',
  minArgs: 2,
  run: async (ctx, p) => {
    const c = await serviceContainer(ctx, p.args[0], p);
    const proto = str(p, 'protocol') ?? 'tcp';
    const b = c.Ports.find((x) => x.PrivatePort === Number(p.args[1]) && x.Type === proto && x.PublicPort);
    if (!b) throw invalidArgument(`no port ${p.args[1]}/${proto} for container ${nameOf(c)}: not published`);
    write(`${b.IP || '0.0.0.0'}:${b.PublicPort}\n`);
  },
};

export const top: ComposeCommand = {
  flags: [],
  usage: 'compose top [SERVICE...]',
  run: async (ctx, p) => {
    const { name } = ctx.projectOrName();
    let cs = (await projectContainers(ctx.api, name, { all: false }));
    if (p.args.length) cs = cs.filter((c) => p.args.includes(c.Labels[Label.service]));
    for (const c of cs) {
      const t = await ctx.api.json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${c.Id}/top`);
      write(`${nameOf(c)}\n`);
      write(`${tabulate([t.Titles.join('\t'), ...t.Processes.map((r) => r.join('\t'))])}\n\n`);
    }
  },
};

export const events: ComposeCommand = {
  flags: [f('json')],
  usage: 'compose events [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const { name } = ctx.projectOrName();
    const filters = JSON.stringify({ type: ['container'], label: [`${Label.project}=${name}`] });
    for await (const e of ctx.api.jsonLines<{ Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number }>('GET', '/events', { query: { filters } })) {
      const service = e.Actor.Attributes[Label.service];
      if (p.args.length && !p.args.includes(service)) continue;
      const time = new Date(e.timeNano / 1e6).toISOString();
      const attributes = { name: e.Actor.Attributes.name, image: e.Actor.Attributes.image };
      if (bool(p, 'json')) write(JSON.stringify({ time, type: 'container', action: e.Action, id: e.Actor.ID, service, attributes }) + '\n');
      else write(`${time} container ${e.Action} ${e.Actor.ID} (image=${attributes.image}, name=${attributes.name})\n`);
    }
  },
};

export const graph: ComposeCommand = {
  flags: [f('format', 'string'), f('output', 'string', 'o')],
  usage: 'compose graph [--format text|dot|svg] [-o FILE]',
  run: async (ctx, p) => {
    const project = ctx.project();
    const format = str(p, 'format') ?? 'text';
    if (!['text', 'dot', 'svg'].includes(format)) throw invalidArgument(`invalid --format ${JSON.stringify(format)}: text, dot or svg`);
    const { nodes, edges } = await projectGraph(ctx.api, project);
    const out = str(p, 'output');
    const text = format === 'dot' ? graphDot(project.name, nodes, edges) : format === 'svg' ? graphSvg(project.name, nodes, edges) : graphText(nodes, edges, !out && process.stdout.isTTY === true);
    if (out) fs.writeFileSync(out, text);
    else write(text);
    return nodes.some((n) => n.failed) ? 1 : 0;
  },
};
