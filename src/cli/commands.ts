import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { BerthError, invalidArgument } from '../base/errors';
import type { ApiClient } from '../client/client';
import { DaemonError, demux } from '../client/client';
import { connect } from '../client/connect';
import { bootstrapImage, buildImage } from './build';
import { cp } from './cp';
import { bool, type FlagSpec, list, parseFlags, type Parsed, str } from './flags';
import { login, logout, prefetch, pull, push } from './registry';
import { ago, binarySize, humanSize, shortCommand, warn } from './output';
import { CREATE_FLAGS, createBody, pumpTerminal, runContainer } from './run';
import { compileTemplate, renderFormat, tabulate } from './template';

type Run = (api: ApiClient, p: Parsed) => Promise<number | void>;

interface Command {
  flags: FlagSpec[];
  run: Run;
  /** Arguments after the first positional belong to the command (run, exec). */
  stopAtFirstArg?: boolean;
  minArgs?: number;
  maxArgs?: number;
  usage: string;
}

const f = (name: string, kind: FlagSpec['kind'] = 'bool', short?: string): FlagSpec => ({ name, kind, short });
const FORMAT = f('format', 'string');
const FILTER = f('filter', 'list', 'f');
/** prune commands keep -f for --force, as docker's do. */
const PRUNE_FILTER = f('filter', 'list');

const PS_HEADERS = { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS' };
const IMAGE_HEADERS = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Digest: 'DIGEST', Containers: 'CONTAINERS' };

function filters(p: Parsed): string | undefined {
  const out: Record<string, string[]> = {};
  for (const x of list(p, 'filter')) {
    const i = x.indexOf('=');
    if (i <= 0) throw invalidArgument(`bad format of filter (expected name=value)`);
    (out[x.slice(0, i)] ??= []).push(x.slice(i + 1));
  }
  return Object.keys(out).length ? JSON.stringify(out) : undefined;
}

const write = (s: string) => process.stdout.write(s);

/** Runs the same action on each named object, as docker does, reporting errors and going on. */
async function each(names: string[], fn: (n: string) => Promise<void>): Promise<number> {
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

interface ContainerSummary {
  Id: string; Names: string[]; Image: string; Command: string; Created: number; Status: string; State: string;
  Labels: Record<string, string>; Mounts: { Name?: string; Source: string }[]; NetworkSettings: { Networks: Record<string, unknown> };
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
}

/** docker's PORTS column: published as ip:public->private/proto, exposed as private/proto. */
function portsText(ports: ContainerSummary['Ports']): string {
  return (ports ?? []).map((x) => (x.PublicPort ? `${x.IP}:${x.PublicPort}->${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(', ');
}

async function ps(api: ApiClient, p: Parsed): Promise<void> {
  const latest = bool(p, 'latest');
  const list_ = await api.json<ContainerSummary[]>('GET', '/containers/json', {
    query: { all: bool(p, 'all') || latest || str(p, 'last') !== undefined, limit: latest ? 1 : str(p, 'last'), filters: filters(p) },
  });
  const noTrunc = bool(p, 'no-trunc');
  if (bool(p, 'quiet')) return void write(list_.map((c) => (noTrunc ? c.Id : c.Id.slice(0, 12)) + '\n').join(''));
  const rows = list_.map((c) => ({
    ID: noTrunc ? c.Id : c.Id.slice(0, 12),
    Image: c.Image,
    Command: shortCommand(c.Command, noTrunc),
    CreatedAt: new Date(c.Created * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    RunningFor: ago(c.Created),
    Ports: portsText(c.Ports),
    State: c.State,
    Status: c.Status,
    Size: '',
    Names: c.Names.map((n) => n.slice(1)).join(','),
    Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: c.Mounts.map((m) => m.Name ?? m.Source).join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
  }));
  const format = str(p, 'format') ?? 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
  write(renderFormat(format === 'table' ? 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}' : format, rows, PS_HEADERS));
}

interface ImageSummary { Id: string; RepoTags: string[]; RepoDigests?: string[]; Created: number; Size: number; Labels: Record<string, string> }

async function images(api: ApiClient, p: Parsed): Promise<void> {
  const q: Record<string, string | boolean | undefined> = { all: bool(p, 'all'), filters: filters(p) };
  if (p.args[0]) {
    const fl = JSON.parse(q.filters as string ?? '{}');
    fl.reference = [...(fl.reference ?? []), p.args[0]];
    q.filters = JSON.stringify(fl);
  }
  const list_ = await api.json<ImageSummary[]>('GET', '/images/json', { query: q });
  const noTrunc = bool(p, 'no-trunc');
  const id = (x: string) => (noTrunc ? x : x.slice(7, 19));
  if (bool(p, 'quiet')) return void write([...new Set(list_.map((i) => id(i.Id)))].map((x) => x + '\n').join(''));
  const rows = list_.flatMap((i) => i.RepoTags.map((t) => {
    const at = t.lastIndexOf(':');
    const repo = t.slice(0, at);
    // The digest the image has in this name's repository, as docker shows it.
    const digest = (i.RepoDigests ?? []).find((d) => d.slice(0, d.indexOf('@')) === repo)?.split('@')[1] ?? '<none>';
    return { Repository: repo, Tag: t.slice(at + 1), ID: id(i.Id), CreatedSince: ago(i.Created), CreatedAt: new Date(i.Created * 1000).toISOString(), Size: humanSize(i.Size), Digest: digest, Containers: 'N/A' };
  }));
  const dflt = bool(p, 'digests') ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}' : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  write(renderFormat(str(p, 'format') ?? dflt, rows, IMAGE_HEADERS));
}

/** inspect: JSON array, or the format applied to each object. */
async function inspect(api: ApiClient, p: Parsed, kinds: ('container' | 'image' | 'volume' | 'network')[]): Promise<number> {
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

async function logs(api: ApiClient, p: Parsed): Promise<void> {
  const id = p.args[0];
  const info = await api.json<{ Config: { Tty: boolean } }>('GET', `/containers/${encodeURIComponent(id)}/json`);
  const res = await api.request('GET', `/containers/${encodeURIComponent(id)}/logs`, {
    query: { stdout: true, stderr: true, follow: bool(p, 'follow'), timestamps: bool(p, 'timestamps'), tail: str(p, 'tail') ?? 'all', since: str(p, 'since'), until: str(p, 'until') },
  });
  if (info.Config.Tty) for await (const c of res) process.stdout.write(c as Buffer);
  else for await (const fr of demux(res as AsyncIterable<Buffer>)) (fr.stream === 2 ? process.stderr : process.stdout).write(fr.data);
}

async function exec(api: ApiClient, p: Parsed): Promise<number> {
  const [container, ...cmd] = p.args;
  if (!cmd.length) throw invalidArgument('"exec" requires at least 2 arguments.');
  const tty = bool(p, 'tty');
  const interactive = bool(p, 'interactive');
  const detach = bool(p, 'detach');
  const { Id } = await api.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, {
    body: {
      Cmd: cmd, Tty: tty, AttachStdin: interactive && !detach, AttachStdout: !detach, AttachStderr: !detach,
      Env: list(p, 'env'), User: str(p, 'user') ?? '', WorkingDir: str(p, 'workdir') ?? '', Privileged: bool(p, 'privileged'),
    },
  });
  if (detach) {
    await api.call('POST', `/exec/${Id}/start`, { body: { Detach: true, Tty: tty } });
    return 0;
  }
  const conn = await api.upgrade(`/exec/${Id}/start`, { body: { Detach: false, Tty: tty } });
  await pumpTerminal(conn, { tty, stdin: interactive, resize: (h, w) => api.call('POST', `/exec/${Id}/resize`, { query: { h, w } }) });
  const r = await api.json<{ ExitCode: number | null; Running: boolean }>('GET', `/exec/${Id}/json`);
  return r.ExitCode ?? 0;
}

async function attach(api: ApiClient, p: Parsed): Promise<number> {
  const id = p.args[0];
  const info = await api.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean } }>('GET', `/containers/${encodeURIComponent(id)}/json`);
  const stdin = info.Config.OpenStdin && !bool(p, 'no-stdin');
  const conn = await api.upgrade(`/containers/${info.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true } });
  await pumpTerminal(conn, { tty: info.Config.Tty, stdin, resize: (h, w) => api.call('POST', `/containers/${info.Id}/resize`, { query: { h, w } }) });
  const after = await api.json<{ State: { ExitCode: number; Running: boolean } }>('GET', `/containers/${info.Id}/json`);
  return after.State.Running ? 0 : after.State.ExitCode;
}

async function stats(api: ApiClient, p: Parsed): Promise<void> {
  let ids = p.args;
  if (!ids.length) ids = (await api.json<ContainerSummary[]>('GET', '/containers/json')).map((c) => c.Id);
  const rows = [];
  for (const id of ids) {
    const s = await api.json<{ id: string; name: string; cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number }; precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number }; memory_stats: { usage?: number; limit?: number; stats?: { cache?: number } }; pids_stats: { current?: number } }>(
      'GET', `/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false } });
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats.cpu_usage?.total_usage ?? 0);
    const sysDelta = s.cpu_stats.system_cpu_usage - (s.precpu_stats.system_cpu_usage ?? 0);
    const cpu = sysDelta > 0 ? (cpuDelta / sysDelta) * s.cpu_stats.online_cpus * 100 : 0;
    const mem = (s.memory_stats.usage ?? 0) - (s.memory_stats.stats?.cache ?? 0);
    const limit = s.memory_stats.limit ?? 0;
    rows.push({
      ID: s.id.slice(0, 12), Container: id, Name: s.name.replace(/^\//, ''), CPUPerc: `${cpu.toFixed(2)}%`,
      MemUsage: `${binarySize(mem)} / ${binarySize(limit)}`, MemPerc: `${limit ? ((mem / limit) * 100).toFixed(2) : '0.00'}%`,
      NetIO: '0B / 0B', BlockIO: '0B / 0B', PIDs: String(s.pids_stats.current ?? 0),
    });
  }
  write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}', rows,
    { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' }));
}

/** Prints a JSON progress stream (import, load); an error in it is the command's error. */
async function progress(lines: AsyncIterable<{ status?: string; stream?: string; error?: string }>): Promise<void> {
  for await (const l of lines) {
    if (l.error) throw new BerthError('internal', l.error);
    if (l.stream) write(l.stream);
    else if (l.status) write(l.status + '\n');
  }
}

const UPDATE_FLAGS = CREATE_FLAGS.filter((x) => ['memory', 'memory-swap', 'memory-reservation', 'kernel-memory', 'cpus', 'cpu-shares', 'cpu-period', 'cpu-quota', 'cpuset-cpus', 'cpuset-mems', 'pids-limit', 'blkio-weight', 'restart', 'network-ingress-rate', 'network-egress-rate'].includes(x.name));

const containerCmds: Record<string, Command> = {
  run: { flags: CREATE_FLAGS, stopAtFirstArg: true, minArgs: 1, usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]', run: runContainer },
  create: {
    flags: CREATE_FLAGS, stopAtFirstArg: true, minArgs: 1, usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
    run: async (api, p) => {
      const { name, body } = createBody(p);
      const r = await api.json<{ Id: string; Warnings?: string[] }>('POST', '/containers/create', { query: { name }, body });
      warn(r.Warnings);
      write(r.Id + '\n');
    },
  },
  start: {
    flags: [f('attach', 'bool', 'a'), f('interactive', 'bool', 'i')], minArgs: 1, usage: 'start [OPTIONS] CONTAINER [CONTAINER...]',
    run: async (api, p) => {
      if (bool(p, 'attach') && p.args.length === 1) {
        const info = await api.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${encodeURIComponent(p.args[0])}/json`);
        const stdin = bool(p, 'interactive');
        const conn = await api.upgrade(`/containers/${info.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true } });
        const waiting = api.json<{ StatusCode: number }>('POST', `/containers/${info.Id}/wait`, { query: { condition: 'next-exit' } });
        const pumping = pumpTerminal(conn, { tty: info.Config.Tty, stdin });
        await api.call('POST', `/containers/${info.Id}/start`);
        await pumping;
        return (await waiting).StatusCode;
      }
      return each(p.args, async (n) => {
        await api.call('POST', `/containers/${encodeURIComponent(n)}/start`);
        write(n + '\n');
      });
    },
  },
  stop: {
    flags: [f('time', 'string', 't'), f('signal', 'string', 's')], minArgs: 1, usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
    run: (api, p) => each(p.args, async (n) => {
      await api.call('POST', `/containers/${encodeURIComponent(n)}/stop`, { query: { t: str(p, 'time'), signal: str(p, 'signal') } });
      write(n + '\n');
    }),
  },
  restart: {
    flags: [f('time', 'string', 't')], minArgs: 1, usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
    run: (api, p) => each(p.args, async (n) => {
      await api.call('POST', `/containers/${encodeURIComponent(n)}/restart`, { query: { t: str(p, 'time') } });
      write(n + '\n');
    }),
  },
  kill: {
    flags: [f('signal', 'string', 's')], minArgs: 1, usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
    run: (api, p) => each(p.args, async (n) => {
      await api.call('POST', `/containers/${encodeURIComponent(n)}/kill`, { query: { signal: str(p, 'signal') } });
      write(n + '\n');
    }),
  },
  pause: { flags: [], minArgs: 1, usage: 'pause CONTAINER [CONTAINER...]', run: (api, p) => each(p.args, async (n) => { await api.call('POST', `/containers/${encodeURIComponent(n)}/pause`); write(n + '\n'); }) },
  unpause: { flags: [], minArgs: 1, usage: 'unpause CONTAINER [CONTAINER...]', run: (api, p) => each(p.args, async (n) => { await api.call('POST', `/containers/${encodeURIComponent(n)}/unpause`); write(n + '\n'); }) },
  rm: {
    flags: [f('force', 'bool', 'f'), f('volumes', 'bool', 'v'), f('link', 'bool', 'l')], minArgs: 1, usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
    run: (api, p) => each(p.args, async (n) => {
      await api.call('DELETE', `/containers/${encodeURIComponent(n)}`, { query: { force: bool(p, 'force'), v: bool(p, 'volumes') } });
      write(n + '\n');
    }),
  },
  rename: { flags: [], minArgs: 2, usage: 'rename CONTAINER NEW_NAME', run: async (api, p) => void (await api.call('POST', `/containers/${encodeURIComponent(p.args[0])}/rename`, { query: { name: p.args[1] } })) },
  wait: {
    flags: [], minArgs: 1, usage: 'wait CONTAINER [CONTAINER...]',
    run: (api, p) => each(p.args, async (n) => {
      const r = await api.json<{ StatusCode: number }>('POST', `/containers/${encodeURIComponent(n)}/wait`);
      write(r.StatusCode + '\n');
    }),
  },
  ps: { flags: [f('all', 'bool', 'a'), f('quiet', 'bool', 'q'), f('no-trunc'), f('latest', 'bool', 'l'), f('last', 'string', 'n'), f('size', 'bool', 's'), FILTER, FORMAT], usage: 'ps [OPTIONS]', run: ps },
  inspect: { flags: [FORMAT, f('format', 'string', 'f'), f('type', 'string'), f('size', 'bool', 's')], minArgs: 1, usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]', run: (api, p) => inspect(api, p, ['container', 'image', 'volume']) },
  top: {
    flags: [], minArgs: 1, usage: 'top CONTAINER [ps OPTIONS]', stopAtFirstArg: true,
    run: async (api, p) => {
      const r = await api.json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${encodeURIComponent(p.args[0])}/top`, { query: { ps_args: p.args.slice(1).join(' ') || undefined } });
      write(tabulate([r.Titles.join('\t'), ...r.Processes.map((x) => x.join('\t'))]) + '\n');
    },
  },
  logs: { flags: [f('follow', 'bool', 'f'), f('tail', 'string', 'n'), f('since', 'string'), f('until', 'string'), f('timestamps', 'bool', 't'), f('details')], minArgs: 1, usage: 'logs [OPTIONS] CONTAINER', run: logs },
  exec: { flags: [f('detach', 'bool', 'd'), f('interactive', 'bool', 'i'), f('tty', 'bool', 't'), f('env', 'list', 'e'), f('user', 'string', 'u'), f('workdir', 'string', 'w'), f('privileged')], stopAtFirstArg: true, minArgs: 2, usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]', run: exec },
  attach: { flags: [f('no-stdin'), f('sig-proxy', 'bool'), f('detach-keys', 'string')], minArgs: 1, usage: 'attach [OPTIONS] CONTAINER', run: attach },
  update: {
    flags: UPDATE_FLAGS, minArgs: 1, usage: 'update [OPTIONS] CONTAINER [CONTAINER...]',
    run: (api, p) => {
      const h = createBody({ ...p, args: ['x'] }).body.HostConfig as Record<string, unknown>;
      const body: Record<string, unknown> = {};
      for (const k of ['Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'RestartPolicy', 'NetworkIngressRate', 'NetworkEgressRate']) body[k] = h[k];
      return each(p.args, async (n) => {
        const r = await api.json<{ Warnings?: string[] }>('POST', `/containers/${encodeURIComponent(n)}/update`, { body });
        // docker prints these on stdout among the names; stderr keeps the names parseable.
        warn(r.Warnings);
        write(n + '\n');
      });
    },
  },
  stats: { flags: [f('no-stream'), f('all', 'bool', 'a'), f('no-trunc'), FORMAT], usage: 'stats [OPTIONS] [CONTAINER...]', run: stats },
  port: { flags: [], minArgs: 1, usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]', run: port },
  diff: {
    flags: [], minArgs: 1, maxArgs: 1, usage: 'diff CONTAINER',
    run: async (api, p) => {
      const kinds = ['C', 'A', 'D'];
      const changes = await api.json<{ Path: string; Kind: number }[]>('GET', `/containers/${encodeURIComponent(p.args[0])}/changes`);
      write(changes.map((c) => `${kinds[c.Kind]} ${c.Path}\n`).join(''));
    },
  },
  commit: {
    flags: [f('author', 'string', 'a'), f('change', 'list', 'c'), f('message', 'string', 'm'), f('pause', 'bool', 'p')], minArgs: 1, maxArgs: 2,
    usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
    run: async (api, p) => {
      const { repo, tag } = splitRef(p.args[1]);
      const pause = p.flags.pause === undefined ? true : bool(p, 'pause');
      const r = await api.json<{ Id: string }>('POST', '/commit', {
        query: { container: p.args[0], repo, tag, comment: str(p, 'message'), author: str(p, 'author'), changes: list(p, 'change'), pause: String(pause) },
      });
      write(`${r.Id}\n`);
    },
  },
  cp: {
    flags: [f('archive', 'bool', 'a')], minArgs: 2, maxArgs: 2,
    usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n        berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    run: (api, p) => cp(api, p.args[0], p.args[1], bool(p, 'archive')),
  },
  export: {
    flags: [f('output', 'string', 'o')], minArgs: 1, maxArgs: 1, usage: 'export [OPTIONS] CONTAINER',
    run: async (api, p) => {
      const out = str(p, 'output');
      if (!out && process.stdout.isTTY) throw invalidArgument('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      await saveTo(await api.request('GET', `/containers/${encodeURIComponent(p.args[0])}/export`), out);
    },
  },
};

/** `repo:tag` → its parts; the tag is what follows the last colon after the last slash. */
function splitRef(ref: string | undefined): { repo?: string; tag?: string } {
  if (!ref) return {};
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? { repo: ref.slice(0, at), tag: ref.slice(at + 1) } : { repo: ref };
}

/** A tar the daemon sends, to a file (whole or not at all) or to stdout. */
async function saveTo(res: NodeJS.ReadableStream, out: string | undefined): Promise<void> {
  if (!out) return pipeline(res, process.stdout);
  const tmp = `${out}.tmp`;
  await pipeline(res, fs.createWriteStream(tmp));
  fs.renameSync(tmp, out);
}

/** docker port: the published ports of a container, or the bindings of one of its ports. */
async function port(api: ApiClient, p: Parsed): Promise<number> {
  const c = await api.json<{ Id: string; NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }>('GET', `/containers/${encodeURIComponent(p.args[0])}/json`);
  const ports = c.NetworkSettings.Ports ?? {};
  if (p.args[1]) {
    const key = p.args[1].includes('/') ? p.args[1] : `${p.args[1]}/tcp`;
    const b = ports[key];
    if (!b?.length) {
      process.stderr.write(`Error: No public port '${key}' published for ${p.args[0]}\n`);
      return 1;
    }
    write(b.map((x) => `${x.HostIp}:${x.HostPort}\n`).join(''));
    return 0;
  }
  for (const [k, b] of Object.entries(ports)) for (const x of b ?? []) write(`${k} -> ${x.HostIp}:${x.HostPort}\n`);
  return 0;
}

const imageCmds: Record<string, Command> = {
  build: {
    flags: [f('tag', 'list', 't'), f('file', 'string', 'f'), f('build-arg', 'list'), f('target', 'string'), f('no-cache'), f('pull'), f('label', 'list'),
      f('network', 'string'), f('squash'), f('progress', 'string'), f('quiet', 'bool', 'q'), f('iidfile', 'string'), f('rm'), f('force-rm')],
    minArgs: 1, maxArgs: 1, usage: 'build [OPTIONS] PATH', run: buildImage,
  },
  pull: { flags: [f('all-tags', 'bool', 'a'), f('quiet', 'bool', 'q'), f('platform', 'string'), f('disable-content-trust')], minArgs: 1, maxArgs: 1, usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', run: pull },
  push: { flags: [f('all-tags', 'bool', 'a'), f('quiet', 'bool', 'q'), f('disable-content-trust')], minArgs: 1, maxArgs: 1, usage: 'push [OPTIONS] NAME[:TAG]', run: push },
  login: { flags: [f('username', 'string', 'u'), f('password', 'string', 'p'), f('password-stdin')], maxArgs: 1, usage: 'login [OPTIONS] [SERVER]', run: login },
  logout: { flags: [], maxArgs: 1, usage: 'logout [SERVER]', run: logout },
  images: { flags: [f('all', 'bool', 'a'), f('quiet', 'bool', 'q'), f('no-trunc'), f('digests'), FILTER, FORMAT], usage: 'images [OPTIONS] [REPOSITORY[:TAG]]', run: images },
  rmi: {
    flags: [f('force', 'bool', 'f'), f('no-prune')], minArgs: 1, usage: 'rmi [OPTIONS] IMAGE [IMAGE...]',
    run: (api, p) => each(p.args, async (n) => {
      const r = await api.json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${n}`, { query: { force: bool(p, 'force') } });
      for (const x of r) write(x.Untagged ? `Untagged: ${x.Untagged}\n` : `Deleted: ${x.Deleted}\n`);
    }),
  },
  tag: {
    flags: [], minArgs: 2, usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
    run: async (api, p) => {
      const t = p.args[1];
      const at = t.lastIndexOf(':');
      const [repo, tag] = at > t.lastIndexOf('/') ? [t.slice(0, at), t.slice(at + 1)] : [t, 'latest'];
      await api.call('POST', `/images/${p.args[0]}/tag`, { query: { repo, tag } });
    },
  },
  import: {
    flags: [f('change', 'list', 'c'), f('message', 'string', 'm'), f('platform', 'string')], minArgs: 1, usage: 'import [OPTIONS] file|-  [REPOSITORY[:TAG]]',
    run: async (api, p) => {
      const src = p.args[0] === '-' ? process.stdin : fs.createReadStream(p.args[0]);
      const { repo, tag } = splitRef(p.args[1]);
      await progress(api.jsonLines('POST', '/images/create', { query: { fromSrc: '-', repo, tag, changes: list(p, 'change'), message: str(p, 'message') }, stream: src }));
    },
  },
  load: {
    flags: [f('input', 'string', 'i'), f('quiet', 'bool', 'q')], usage: 'load [OPTIONS]',
    run: async (api, p) => {
      const input = str(p, 'input');
      if (!input && process.stdin.isTTY) throw invalidArgument('requested load from stdin, but stdin is empty');
      await progress(api.jsonLines('POST', '/images/load', { query: { quiet: bool(p, 'quiet') }, stream: input ? fs.createReadStream(input) : process.stdin }));
    },
  },
  save: {
    flags: [f('output', 'string', 'o')], minArgs: 1, usage: 'save [OPTIONS] IMAGE [IMAGE...]',
    run: async (api, p) => {
      const out = str(p, 'output');
      if (!out && process.stdout.isTTY) throw invalidArgument('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      await saveTo(await api.request('GET', '/images/get', { query: { names: p.args } }), out);
    },
  },
  history: {
    flags: [f('human', 'bool', 'H'), f('no-trunc'), f('quiet', 'bool', 'q'), FORMAT], minArgs: 1, usage: 'history [OPTIONS] IMAGE',
    run: async (api, p) => {
      const h = await api.json<{ Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }[]>('GET', `/images/${p.args[0]}/history`);
      const noTrunc = bool(p, 'no-trunc');
      const rows = h.map((x) => ({ ID: x.Id === '<missing>' || noTrunc ? x.Id : x.Id.slice(7, 19), CreatedSince: ago(x.Created), CreatedBy: noTrunc || x.CreatedBy.length <= 45 ? x.CreatedBy : x.CreatedBy.slice(0, 44) + '…', Size: humanSize(x.Size), Comment: x.Comment }));
      if (bool(p, 'quiet')) return void write(rows.map((r) => r.ID + '\n').join(''));
      write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', rows, { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' }));
    },
  },
};

interface VolumeSummary { Name: string; Driver: string; Labels: Record<string, string>; Mountpoint: string }

const volumeCmds: Record<string, Command> = {
  create: {
    flags: [f('driver', 'string', 'd'), f('label', 'list'), f('opt', 'list', 'o'), f('name', 'string')], usage: 'volume create [OPTIONS] [VOLUME]',
    run: async (api, p) => {
      const labels = Object.fromEntries(list(p, 'label').map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
      const v = await api.json<{ Name: string }>('POST', '/volumes/create', { body: { Name: p.args[0] ?? str(p, 'name') ?? '', Driver: str(p, 'driver') ?? 'local', Labels: labels, DriverOpts: Object.fromEntries(list(p, 'opt').map((l) => l.split('='))) } });
      write(v.Name + '\n');
    },
  },
  ls: {
    flags: [f('quiet', 'bool', 'q'), FILTER, FORMAT], usage: 'volume ls [OPTIONS]',
    run: async (api, p) => {
      const r = await api.json<{ Volumes: VolumeSummary[] }>('GET', '/volumes', { query: { filters: filters(p) } });
      if (bool(p, 'quiet')) return void write(r.Volumes.map((v) => v.Name + '\n').join(''));
      write(renderFormat(str(p, 'format') ?? 'table {{.Driver}}\t{{.Name}}', r.Volumes, { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT' }));
    },
  },
  inspect: { flags: [f('format', 'string', 'f')], minArgs: 1, usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]', run: (api, p) => inspect(api, p, ['volume']) },
  rm: { flags: [f('force', 'bool', 'f')], minArgs: 1, usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]', run: (api, p) => each(p.args, async (n) => { await api.call('DELETE', `/volumes/${encodeURIComponent(n)}`, { query: { force: bool(p, 'force') } }); write(n + '\n'); }) },
  prune: {
    flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), PRUNE_FILTER], usage: 'volume prune [OPTIONS]',
    run: async (api, p) => {
      const fl = JSON.parse(filters(p) ?? '{}');
      if (bool(p, 'all')) fl.all = ['true'];
      const r = await api.json<{ VolumesDeleted: string[]; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters: JSON.stringify(fl) } });
      reportPrune('Deleted Volumes', r.VolumesDeleted ?? [], r.SpaceReclaimed);
    },
  },
};

function reportPrune(title: string, items: string[], space: number): void {
  if (items.length) write(`${title}:\n${items.map((i) => i + '\n').join('')}\n`);
  write(`Total reclaimed space: ${humanSize(space)}\n`);
}

interface NetworkSummary { Name: string; Id: string; Driver: string; Scope: string; Created: string; Internal: boolean; Labels: Record<string, string>; IPAM: { Config: { Subnet: string }[] } }

const networkCmds: Record<string, Command> = {
  create: {
    flags: [f('driver', 'string', 'd'), f('subnet', 'string'), f('gateway', 'string'), f('ip-range', 'string'), f('internal'), f('attachable'), f('label', 'list'), f('opt', 'list', 'o'), f('ipv6')],
    minArgs: 1, usage: 'network create [OPTIONS] NETWORK',
    run: async (api, p) => {
      const config = str(p, 'subnet') || str(p, 'gateway') || str(p, 'ip-range') ? [{ Subnet: str(p, 'subnet'), Gateway: str(p, 'gateway'), IPRange: str(p, 'ip-range') }] : [];
      const r = await api.json<{ Id: string }>('POST', '/networks/create', {
        body: {
          Name: p.args[0], Driver: str(p, 'driver') ?? 'bridge', Internal: bool(p, 'internal'), Attachable: bool(p, 'attachable'), EnableIPv6: bool(p, 'ipv6'),
          IPAM: { Driver: 'default', Config: config }, Labels: keyValueList(list(p, 'label')), Options: keyValueList(list(p, 'opt')), CheckDuplicate: true,
        },
      });
      write(r.Id + '\n');
    },
  },
  ls: {
    flags: [f('quiet', 'bool', 'q'), f('no-trunc'), FILTER, FORMAT], usage: 'network ls [OPTIONS]',
    run: async (api, p) => {
      const nets = await api.json<NetworkSummary[]>('GET', '/networks', { query: { filters: filters(p) } });
      const id = (x: string) => (bool(p, 'no-trunc') ? x : x.slice(0, 12));
      if (bool(p, 'quiet')) return void write(nets.map((n) => id(n.Id) + '\n').join(''));
      const rows = nets.map((n) => ({ ID: id(n.Id), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: String(n.Internal), CreatedAt: n.Created, Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','), IPv6: 'false' }));
      write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', rows, { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Internal: 'INTERNAL', CreatedAt: 'CREATED AT', Labels: 'LABELS', IPv6: 'IPV6' }));
    },
  },
  inspect: { flags: [f('format', 'string', 'f')], minArgs: 1, usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]', run: (api, p) => inspect(api, p, ['network']) },
  rm: { flags: [f('force', 'bool', 'f')], minArgs: 1, usage: 'network rm NETWORK [NETWORK...]', run: (api, p) => each(p.args, async (n) => { await api.call('DELETE', `/networks/${encodeURIComponent(n)}`); write(n + '\n'); }) },
  prune: {
    flags: [f('force', 'bool', 'f'), PRUNE_FILTER], usage: 'network prune [OPTIONS]',
    run: async (api, p) => {
      const r = await api.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: filters(p) } });
      if (r.NetworksDeleted?.length) write(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}\n`);
    },
  },
  connect: {
    flags: [f('alias', 'list'), f('ip', 'string')], minArgs: 2, usage: 'network connect [OPTIONS] NETWORK CONTAINER',
    run: async (api, p) => {
      const ep: Record<string, unknown> = {};
      if (list(p, 'alias').length) ep.Aliases = list(p, 'alias');
      if (str(p, 'ip')) ep.IPAMConfig = { IPv4Address: str(p, 'ip') };
      await api.call('POST', `/networks/${encodeURIComponent(p.args[0])}/connect`, { body: { Container: p.args[1], EndpointConfig: ep } });
    },
  },
  disconnect: {
    flags: [f('force', 'bool', 'f')], minArgs: 2, usage: 'network disconnect [OPTIONS] NETWORK CONTAINER',
    run: async (api, p) => void (await api.call('POST', `/networks/${encodeURIComponent(p.args[0])}/disconnect`, { body: { Container: p.args[1], Force: bool(p, 'force') } })),
  },
};

function keyValueList(items: string[]): Record<string, string> {
  return Object.fromEntries(items.map((x) => {
    const i = x.indexOf('=');
    return i < 0 ? [x, ''] : [x.slice(0, i), x.slice(i + 1)];
  }));
}

const pruneContainers: Command = {
  flags: [f('force', 'bool', 'f'), PRUNE_FILTER], usage: 'container prune [OPTIONS]',
  run: async (api, p) => {
    const r = await api.json<{ ContainersDeleted: string[]; SpaceReclaimed: number }>('POST', '/containers/prune', { query: { filters: filters(p) } });
    reportPrune('Deleted Containers', r.ContainersDeleted ?? [], r.SpaceReclaimed);
  },
};

const pruneImages: Command = {
  flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), PRUNE_FILTER], usage: 'image prune [OPTIONS]',
  run: async (api, p) => {
    const r = await api.json<{ ImagesDeleted: { Deleted?: string; Untagged?: string }[]; SpaceReclaimed: number }>('POST', '/images/prune', { query: { filters: JSON.stringify({ dangling: [bool(p, 'all') ? 'false' : 'true'] }) } });
    reportPrune('Deleted Images', (r.ImagesDeleted ?? []).map((x) => (x.Deleted ? `deleted: ${x.Deleted}` : `untagged: ${x.Untagged}`)), r.SpaceReclaimed);
  },
};

const systemCmds: Record<string, Command> = {
  version: {
    flags: [FORMAT, f('format', 'string', 'f')], usage: 'version',
    run: async (api, p) => {
      const v = await api.json<{ Version: string; ApiVersion: string; Os: string; Arch: string; GoVersion: string }>('GET', '/version');
      const format = str(p, 'format');
      if (format) return void write(compileTemplate(format).execute({ Client: { Version: v.Version }, Server: v }) + '\n');
      write(`Client:\n Version:     ${v.Version}\n API version: ${v.ApiVersion}\n\nServer: Berth\n Engine:\n  Version:     ${v.Version}\n  API version: ${v.ApiVersion}\n  Runtime:     ${v.GoVersion}\n  OS/Arch:     ${v.Os}/${v.Arch}\n`);
    },
  },
  info: {
    flags: [FORMAT, f('format', 'string', 'f')], usage: 'info',
    run: async (api, p) => {
      const i = await api.json<Record<string, unknown>>('GET', '/info');
      const format = str(p, 'format');
      if (format) return void write(compileTemplate(format).execute(i) + '\n');
      const keys = ['Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'ServerVersion', 'Driver', 'LoggingDriver', 'CgroupDriver', 'CgroupVersion', 'DefaultRuntime', 'KernelVersion', 'OperatingSystem', 'NCPU', 'MemTotal', 'DockerRootDir'];
      write(keys.map((k) => ` ${k}: ${k === 'MemTotal' ? binarySize(i[k] as number) : String(i[k])}\n`).join(''));
      // As the docker CLI: what the host lacks, on stderr after the rest.
      for (const w of (i.Warnings as string[] | null) ?? []) process.stderr.write(`${w}\n`);
    },
  },
  events: {
    flags: [f('since', 'string'), f('until', 'string'), FILTER, FORMAT], usage: 'events [OPTIONS]',
    run: async (api, p) => {
      const format = str(p, 'format');
      const tpl = format ? compileTemplate(format) : undefined;
      for await (const e of api.jsonLines<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number }>('GET', '/events', { query: { since: str(p, 'since'), until: str(p, 'until'), filters: filters(p) } })) {
        if (tpl) write(tpl.execute(e) + '\n');
        else {
          const t = new Date(e.timeNano / 1e6).toISOString().replace('Z', '') + String(e.timeNano % 1e6).padStart(6, '0').slice(0, 6) + 'Z';
          const attrs = Object.entries(e.Actor.Attributes).sort().map(([k, v]) => `${k}=${v}`).join(', ');
          write(`${t} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`);
        }
      }
    },
  },
};

const systemSub: Record<string, Command> = {
  df: {
    flags: [f('verbose', 'bool', 'v'), FORMAT], usage: 'system df',
    run: async (api) => {
      const d = await api.json<{ LayersSize: number; Images: { Containers: number; Size: number }[]; Containers: { State: string; SizeRw: number }[]; Volumes: { UsageData: { Size: number; RefCount: number } }[] }>('GET', '/system/df');
      const rows = [
        { Type: 'Images', TotalCount: d.Images.length, Active: d.Images.filter((i) => i.Containers > 0).length, Size: humanSize(d.LayersSize), Reclaimable: humanSize(d.Images.filter((i) => !i.Containers).reduce((a, i) => a + i.Size, 0)) },
        { Type: 'Containers', TotalCount: d.Containers.length, Active: d.Containers.filter((c) => c.State === 'running').length, Size: humanSize(d.Containers.reduce((a, c) => a + c.SizeRw, 0)), Reclaimable: humanSize(d.Containers.filter((c) => c.State !== 'running').reduce((a, c) => a + c.SizeRw, 0)) },
        { Type: 'Local Volumes', TotalCount: d.Volumes.length, Active: d.Volumes.filter((v) => v.UsageData.RefCount > 0).length, Size: humanSize(d.Volumes.reduce((a, v) => a + v.UsageData.Size, 0)), Reclaimable: humanSize(d.Volumes.filter((v) => !v.UsageData.RefCount).reduce((a, v) => a + v.UsageData.Size, 0)) },
        { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: '0B', Reclaimable: '0B' },
      ];
      write(renderFormat('table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', rows, { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' }));
    },
  },
  prune: {
    flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), f('volumes')], usage: 'system prune [OPTIONS]',
    run: async (api, p) => {
      await pruneContainers.run(api, p);
      if (bool(p, 'volumes')) await volumeCmds.prune.run(api, { ...p, flags: { ...p.flags, filter: [] } });
      await pruneImages.run(api, p);
    },
  },
  check: {
    flags: [f('repair', 'bool'), f('verbose', 'bool', 'v')], usage: 'system check [OPTIONS]',
    run: async (api, p) => {
      const repair = bool(p, 'repair');
      const r = await api.json<{ Problems: { Kind: string; Subject: string; Detail: string; Repaired?: boolean; Error?: string }[]; Host?: { Area: string; Item: string; On: boolean; Detail: string }[] }>('POST', '/berth/system/check', { query: { repair } });
      // The host's parts: with -v all of them in a table; else what is off, on stderr as info's warnings are.
      const host = r.Host ?? [];
      if (bool(p, 'verbose')) {
        write(renderFormat('table {{.Area}}\t{{.Item}}\t{{.State}}\t{{.Detail}}', host.map((h) => ({ ...h, State: h.On ? 'on' : 'off' })), { Area: 'HOST', Item: 'PART', State: 'STATE', Detail: 'DETAIL' }));
        write('\n');
      } else for (const h of host.filter((x) => !x.On)) process.stderr.write(`WARNING: ${h.Area} ${h.Item} is off${h.Detail ? `: ${h.Detail}` : ''}\n`);
      if (!r.Problems.length) return void write('No problems found.\n');
      const rows = r.Problems.map((x) => ({ ...x, Status: !repair ? 'found' : x.Repaired ? 'repaired' : `not repaired: ${x.Error}` }));
      write(renderFormat('table {{.Kind}}\t{{.Subject}}\t{{.Detail}}\t{{.Status}}', rows, { Kind: 'KIND', Subject: 'SUBJECT', Detail: 'DETAIL', Status: 'STATUS' }));
      // Scripts can tell a clean system (0) from one with problems left (1).
      return r.Problems.every((x) => x.Repaired) ? 0 : 1;
    },
  },
  info: systemCmds.info,
  events: systemCmds.events,
};

/** `berth container ls`, `berth image rm`, ... map to the top-level commands as docker's do. */
const groups: Record<string, Record<string, Command>> = {
  container: { ...containerCmds, ls: containerCmds.ps, list: containerCmds.ps, prune: pruneContainers, inspect: { ...containerCmds.inspect, run: (api, p) => inspect(api, p, ['container']) } },
  image: {
    bootstrap: { flags: [f('suite', 'string'), f('mirror', 'string'), f('variant', 'string'), f('include', 'list'), f('quiet', 'bool', 'q')], minArgs: 1, maxArgs: 1, usage: 'image bootstrap [OPTIONS] NAME[:TAG]', run: bootstrapImage },
    build: imageCmds.build,
    ls: imageCmds.images, list: imageCmds.images, pull: imageCmds.pull, push: imageCmds.push, prefetch: { flags: [f('platform', 'string')], minArgs: 1, maxArgs: 1, usage: 'image prefetch [--platform os/arch] IMAGE', run: prefetch }, rm: imageCmds.rmi, tag: imageCmds.tag, import: imageCmds.import, load: imageCmds.load, save: imageCmds.save, history: imageCmds.history, prune: pruneImages, inspect: { ...containerCmds.inspect, run: (api, p) => inspect(api, p, ['image']) } },
  volume: volumeCmds,
  network: networkCmds,
  system: systemSub,
};

const topLevel: Record<string, Command> = { ...containerCmds, ...imageCmds, ...systemCmds };

const GLOBAL = [f('host', 'string', 'H'), f('debug', 'bool', 'D'), f('log-level', 'string', 'l')];

function usage(): string {
  const names = [...Object.keys(topLevel), ...Object.keys(groups), 'daemon', 'registry'].sort();
  return `Usage:  berth [OPTIONS] COMMAND\n\nA container platform that speaks docker's language.\n\nCommands:\n${names.map((n) => `  ${n}`).join('\n')}\n\nRun 'berth COMMAND --help' for more information on a command.\n`;
}

/** Runs a client command; returns the process exit code (125 for daemon errors, as docker). */
export async function runCli(argv: string[]): Promise<number> {
  // Global flags come before the command.
  let i = 0;
  const global: string[] = [];
  while (i < argv.length && argv[i].startsWith('-')) {
    global.push(argv[i]);
    if (['-H', '--host', '-l', '--log-level'].includes(argv[i])) global.push(argv[++i]);
    i++;
  }
  const g = parseFlags(global, [...GLOBAL, f('version', 'bool', 'v'), f('help')], { command: '' });
  if (bool(g, 'version')) argv = ['version', ...argv.slice(i)];
  else argv = argv.slice(i);
  const [name, ...rest] = argv;
  if (!name || name === 'help' || bool(g, 'help')) {
    write(usage());
    return name ? 0 : 1;
  }
  let cmd = topLevel[name];
  let args = rest;
  let label = name;
  if (groups[name]) {
    const sub = rest[0];
    cmd = groups[name][sub];
    args = rest.slice(1);
    label = `${name} ${sub}`;
    if (!sub || !cmd) {
      process.stderr.write(`berth: '${name} ${sub ?? ''}' is not a berth command.\nSee 'berth ${name} --help'.\n`);
      return 1;
    }
  }
  if (!cmd) {
    process.stderr.write(`berth: '${name}' is not a berth command.\nSee 'berth --help'\n`);
    return 1;
  }
  if (args.includes('--help') && !cmd.stopAtFirstArg) {
    write(`Usage:  berth ${cmd.usage}\n\nOptions:\n${cmd.flags.map((x) => `  ${x.short ? `-${x.short}, ` : '    '}--${x.name}${x.kind === 'bool' ? '' : ` ${x.kind}`}`).join('\n')}\n`);
    return 0;
  }
  let parsed: Parsed;
  try {
    parsed = parseFlags(args, cmd.flags, { stopAtFirstArg: cmd.stopAtFirstArg, command: label });
    if ((cmd.minArgs ?? 0) > parsed.args.length) {
      throw invalidArgument(`"berth ${label}" requires at least ${cmd.minArgs} argument${cmd.minArgs === 1 ? '' : 's'}.\nSee 'berth ${label} --help'.\n\nUsage:  berth ${cmd.usage}`);
    }
    if (cmd.maxArgs !== undefined && parsed.args.length > cmd.maxArgs) {
      throw invalidArgument(`"berth ${label}" accepts at most ${cmd.maxArgs} argument${cmd.maxArgs === 1 ? '' : 's'}.\nSee 'berth ${label} --help'.\n\nUsage:  berth ${cmd.usage}`);
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 125;
  }
  try {
    const api = await connect(str(g, 'host'));
    const rc = await cmd.run(api, parsed);
    return typeof rc === 'number' ? rc : 0;
  } catch (e) {
    const msg = (e as Error).message;
    process.stderr.write(e instanceof DaemonError ? `Error response from daemon: ${msg}\n` : `Error: ${msg}\n`);
    return ['run', 'create'].includes(name) || (name === 'container' && ['run', 'create'].includes(rest[0])) ? 125 : 1;
  }
}

