import { invalidArgument } from '../base/errors';
import type { ApiClient } from '../client/client';
import { demux } from '../client/client';
import { cp } from './cp';
import { bool, list, type Parsed, str } from './flags';
import { ago, binarySize, humanSize, shortCommand, warn } from './output';
import { detachKeysOf } from './credentials';
import { CREATE_FLAGS, createBody, pumpTerminal, runContainer } from './run';
import { renderFormat, tabulate } from './template';
import { type Command, each, f, FILTER, filters, FORMAT, inspect, PRUNE_FILTER, reportPrune, saveTo, splitRef, write } from './command';

const PS_HEADERS = { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS' };

interface ContainerSummary {
  Id: string; Names: string[]; Image: string; Command: string; Created: number; Status: string; State: string;
  Labels: Record<string, string>; Mounts: { Name?: string; Source: string }[]; NetworkSettings: { Networks: Record<string, unknown> };
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  SizeRw?: number; SizeRootFs?: number;
}

/** docker's PORTS column: published as ip:public->private/proto, exposed as private/proto. */
export function portsText(ports: ContainerSummary['Ports']): string {
  return (ports ?? []).map((x) => (x.PublicPort ? `${x.IP}:${x.PublicPort}->${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(', ');
}

async function ps(api: ApiClient, p: Parsed): Promise<void> {
  const latest = bool(p, 'latest');
  // As docker's CLI: sizes are asked for by -s, or by a format that shows them.
  const sized = bool(p, 'size') || /\.Size\b/.test(str(p, 'format') ?? '');
  const list_ = await api.json<ContainerSummary[]>('GET', '/containers/json', {
    query: { all: bool(p, 'all') || latest || str(p, 'last') !== undefined, limit: latest ? 1 : str(p, 'last'), filters: filters(p), size: sized || undefined },
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
    Size: c.SizeRw === undefined ? '' : `${humanSize(c.SizeRw)} (virtual ${humanSize(c.SizeRootFs ?? 0)})`,
    Names: c.Names.map((n) => n.slice(1)).join(','),
    Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: c.Mounts.map((m) => m.Name ?? m.Source).join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
  }));
  const table = `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${bool(p, 'size') ? '\t{{.Size}}' : ''}`;
  const format = str(p, 'format') ?? table;
  write(renderFormat(format === 'table' ? table : format, rows, PS_HEADERS));
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
  const detachKeys = detachKeysOf(str(p, 'detach-keys'));
  const { Id } = await api.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, {
    body: {
      Cmd: cmd, Tty: tty, AttachStdin: interactive && !detach, AttachStdout: !detach, AttachStderr: !detach,
      Env: list(p, 'env'), User: str(p, 'user') ?? '', WorkingDir: str(p, 'workdir') ?? '', Privileged: bool(p, 'privileged'), DetachKeys: detachKeys,
    },
  });
  if (detach) {
    await api.call('POST', `/exec/${Id}/start`, { body: { Detach: true, Tty: tty } });
    return 0;
  }
  const conn = await api.upgrade(`/exec/${Id}/start`, { body: { Detach: false, Tty: tty } });
  if ((await pumpTerminal(conn, { tty, stdin: interactive, detachKeys, resize: (h, w) => api.call('POST', `/exec/${Id}/resize`, { query: { h, w } }) })) === 'detached') return 0;
  const r = await api.json<{ ExitCode: number | null; Running: boolean }>('GET', `/exec/${Id}/json`);
  return r.ExitCode ?? 0;
}

async function attach(api: ApiClient, p: Parsed): Promise<number> {
  const id = p.args[0];
  const info = await api.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean } }>('GET', `/containers/${encodeURIComponent(id)}/json`);
  const stdin = info.Config.OpenStdin && !bool(p, 'no-stdin');
  const detachKeys = detachKeysOf(str(p, 'detach-keys'));
  const conn = await api.upgrade(`/containers/${info.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true, detachKeys } });
  if ((await pumpTerminal(conn, { tty: info.Config.Tty, stdin, detachKeys, resize: (h, w) => api.call('POST', `/containers/${info.Id}/resize`, { query: { h, w } }) })) === 'detached') {
    // docker's attach words it so, and exits 1 (its run -it exits 0).
    process.stderr.write('read escape sequence\n');
    return 1;
  }
  const after = await api.json<{ State: { ExitCode: number; Running: boolean } }>('GET', `/containers/${info.Id}/json`);
  return after.State.Running ? 0 : after.State.ExitCode;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Bytes read or written, as docker's CLI adds them up (v1's Read/Write, v2's read/write). */
function blockBytes(b: { io_service_bytes_recursive?: { op: string; value: number }[] | null } | undefined, op: string): number {
  return sum((b?.io_service_bytes_recursive ?? []).filter((e) => e.op.toLowerCase() === op).map((e) => e.value));
}

async function stats(api: ApiClient, p: Parsed): Promise<void> {
  let ids = p.args;
  if (!ids.length) ids = (await api.json<ContainerSummary[]>('GET', '/containers/json')).map((c) => c.Id);
  const rows = [];
  for (const id of ids) {
    const s = await api.json<{
      id: string; name: string; cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number }; precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number };
      memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> }; pids_stats: { current?: number };
      networks?: Record<string, { rx_bytes: number; tx_bytes: number }>; blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
    }>(
      'GET', `/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false } });
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats.cpu_usage?.total_usage ?? 0);
    const sysDelta = s.cpu_stats.system_cpu_usage - (s.precpu_stats.system_cpu_usage ?? 0);
    const cpu = sysDelta > 0 ? (cpuDelta / sysDelta) * s.cpu_stats.online_cpus * 100 : 0;
    // docker's CLI: the usage less the inactive file pages (total_inactive_file on v1, inactive_file on v2).
    const usage = s.memory_stats.usage ?? 0;
    const inactive = s.memory_stats.stats?.total_inactive_file ?? s.memory_stats.stats?.inactive_file ?? 0;
    const mem = inactive < usage ? usage - inactive : usage;
    const limit = s.memory_stats.limit ?? 0;
    rows.push({
      ID: s.id.slice(0, 12), Container: id, Name: s.name.replace(/^\//, ''), CPUPerc: `${cpu.toFixed(2)}%`,
      MemUsage: `${binarySize(mem)} / ${binarySize(limit)}`, MemPerc: `${limit ? ((mem / limit) * 100).toFixed(2) : '0.00'}%`,
      NetIO: `${humanSize(sum(Object.values(s.networks ?? {}).map((n) => n.rx_bytes)))} / ${humanSize(sum(Object.values(s.networks ?? {}).map((n) => n.tx_bytes)))}`,
      BlockIO: `${humanSize(blockBytes(s.blkio_stats, 'read'))} / ${humanSize(blockBytes(s.blkio_stats, 'write'))}`,
      PIDs: String(s.pids_stats.current ?? 0),
    });
  }
  write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}', rows,
    { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' }));
}

export const UPDATE_FLAGS = CREATE_FLAGS.filter((x) => ['memory', 'memory-swap', 'memory-reservation', 'kernel-memory', 'cpus', 'cpu-shares', 'cpu-period', 'cpu-quota', 'cpuset-cpus', 'cpuset-mems', 'pids-limit', 'blkio-weight', 'restart', 'network-ingress-rate', 'network-egress-rate', 'network-bandwidth'].includes(x.name));

export const containerCmds: Record<string, Command> = {
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
    flags: [f('attach', 'bool', 'a'), f('interactive', 'bool', 'i'), f('detach-keys', 'string')], minArgs: 1, usage: 'start [OPTIONS] CONTAINER [CONTAINER...]',
    run: async (api, p) => {
      if (bool(p, 'attach') && p.args.length === 1) {
        const info = await api.json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${encodeURIComponent(p.args[0])}/json`);
        const stdin = bool(p, 'interactive');
        const detachKeys = detachKeysOf(str(p, 'detach-keys'));
        const conn = await api.upgrade(`/containers/${info.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true, detachKeys } });
        const unwait = new AbortController();
        const waiting = api.json<{ StatusCode: number }>('POST', `/containers/${info.Id}/wait`, { query: { condition: 'next-exit' }, signal: unwait.signal });
        waiting.catch(() => {}); // awaited below, or aborted on detach: this only keeps an early failure from going unhandled
        const pumping = pumpTerminal(conn, { tty: info.Config.Tty, stdin, detachKeys });
        await api.call('POST', `/containers/${info.Id}/start`);
        if ((await pumping) === 'detached') {
          unwait.abort();
          return 0;
        }
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
      await api.call('DELETE', `/containers/${encodeURIComponent(n)}`, { query: { force: bool(p, 'force'), v: bool(p, 'volumes'), link: bool(p, 'link') } });
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
  exec: { flags: [f('detach', 'bool', 'd'), f('detach-keys', 'string'), f('interactive', 'bool', 'i'), f('tty', 'bool', 't'), f('env', 'list', 'e'), f('user', 'string', 'u'), f('workdir', 'string', 'w'), f('privileged')], stopAtFirstArg: true, minArgs: 2, usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]', run: exec },
  attach: { flags: [f('no-stdin'), f('sig-proxy', 'bool'), f('detach-keys', 'string')], minArgs: 1, usage: 'attach [OPTIONS] CONTAINER', run: attach },
  update: {
    flags: UPDATE_FLAGS, minArgs: 1, usage: 'update [OPTIONS] CONTAINER [CONTAINER...]',
    run: (api, p) => {
      const h = createBody({ ...p, args: ['x'] }).body.HostConfig as Record<string, unknown>;
      const body: Record<string, unknown> = {};
      for (const k of ['Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'RestartPolicy', 'NetworkIngressRate', 'NetworkEgressRate', 'NetworkBandwidth']) body[k] = h[k];
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

export const pruneContainers: Command = {
  flags: [f('force', 'bool', 'f'), PRUNE_FILTER], usage: 'container prune [OPTIONS]',
  run: async (api, p) => {
    const r = await api.json<{ ContainersDeleted: string[]; SpaceReclaimed: number }>('POST', '/containers/prune', { query: { filters: filters(p) } });
    reportPrune('Deleted Containers', r.ContainersDeleted ?? [], r.SpaceReclaimed);
  },
};
