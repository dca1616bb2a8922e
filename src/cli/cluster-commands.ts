// berth cluster|node|service: the cluster through the Engine API's swarm endpoints, with docker's flags and output.
import { invalidArgument } from '../base/errors';
import { type ApiClient, DaemonError, demux } from '../client/client';
import { type Command, each, f, FILTER, filters, FORMAT, write } from './command';
import { bool, list, type Parsed, str } from './flags';
import { ago } from './output';
import { registryAuthHeader, serverOf } from './credentials';
import { createSpec, CREATE_FLAGS, type ServiceSpecBody, updateSpec, UPDATE_FLAGS } from './service-flags';
import { renderFormat } from './template';
import { caCommands, caUpdate } from './cluster-ca-commands';

interface Service { ID: string; Version: { Index: number }; Spec: ServiceSpecBody & { Name: string }; PreviousSpec?: unknown; UpdateStatus?: { State: string; Message: string }; ServiceStatus?: { RunningTasks: number; DesiredTasks: number } }
interface Task { ID: string; ServiceID: string; Slot?: number; NodeID?: string; DesiredState: string; Status: { State: string; Timestamp: string; Err?: string }; Spec: { ContainerSpec?: { Image?: string } } }
interface Node { ID: string; Spec: { Role: string; Availability: string; Labels: Record<string, string> }; Description: { Hostname: string; Engine: { EngineVersion: string } }; Status: { State: string }; ManagerStatus?: { Leader: boolean; Reachability: string } }

/** The swarm label Berth's managers read their rebalance threshold from (the CLI knows the API, not the cluster's code). */
const REBALANCE_THRESHOLD_LABEL = 'berth.rebalance.threshold';

interface Swarm {
  Version: { Index: number };
  Spec: { Labels: Record<string, string>; CAConfig?: Record<string, unknown>; Orchestration?: Record<string, unknown> };
  JoinTokens: { Worker: string; Manager: string };
}

const cap = (x: string) => x.charAt(0).toUpperCase() + x.slice(1);
const short = (id: string, p: Parsed) => (bool(p, 'no-trunc') ? id : id.slice(0, 12));

/** docker's inspect of swarm objects: each reference's JSON, or a format of them. */
export async function inspectEach(api: ApiClient, p: Parsed, path: (ref: string) => string): Promise<number> {
  const out: unknown[] = [];
  const rc = await each(p.args, async (ref) => void out.push(await api.json('GET', path(encodeURIComponent(ref)))));
  const format = str(p, 'format');
  write(format ? renderFormat(format, out, {}) : `${JSON.stringify(out, null, 4)}\n`);
  return rc;
}

/** Tasks as docker's `service ps` and `node ps` show them: the newest of each slot first. */
async function showTasks(api: ApiClient, p: Parsed, filter: Record<string, string[]>): Promise<void> {
  const [tasks, services, nodes] = await Promise.all([
    api.json<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify({ ...filter, ...JSON.parse(filters(p) ?? '{}') }) } }),
    api.json<Service[]>('GET', '/services'),
    api.json<Node[]>('GET', '/nodes'),
  ]);
  const names = new Map(services.map((s) => [s.ID, s.Spec.Name]));
  const hosts = new Map(nodes.map((n) => [n.ID, n.Description.Hostname]));
  tasks.sort((a, b) => (names.get(a.ServiceID) ?? '').localeCompare(names.get(b.ServiceID) ?? '') || (a.Slot ?? 0) - (b.Slot ?? 0) || b.Status.Timestamp.localeCompare(a.Status.Timestamp));
  if (bool(p, 'quiet')) return void write(tasks.map((t) => `${short(t.ID, p)}\n`).join(''));
  const seen = new Set<string>();
  const rows = tasks.map((t) => {
    const slot = `${names.get(t.ServiceID) ?? t.ServiceID}.${t.Slot ?? t.NodeID}`;
    const name = seen.has(slot) ? ` \\_ ${slot}` : slot;
    seen.add(slot);
    return {
      ID: short(t.ID, p), Name: name, Image: t.Spec.ContainerSpec?.Image ?? '', Node: t.NodeID ? (hosts.get(t.NodeID) ?? t.NodeID) : '',
      DesiredState: cap(t.DesiredState), CurrentState: `${cap(t.Status.State)} ${ago(Date.parse(t.Status.Timestamp) / 1000)}`, Error: t.Status.Err ? `"${t.Status.Err}"` : '', Ports: '',
    };
  });
  write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}', rows,
    { ID: 'ID', Name: 'NAME', Image: 'IMAGE', Node: 'NODE', DesiredState: 'DESIRED STATE', CurrentState: 'CURRENT STATE', Error: 'ERROR', Ports: 'PORTS' }));
}

/**
 * Berth's `node ps --services`: the services living on the nodes (what a
 * drain would move), with their tasks there and their labels (owners,
 * teams: whatever the operators label services with).
 */
async function servicesOn(api: ApiClient, p: Parsed, nodes: string[]): Promise<void> {
  const [tasks, services] = await Promise.all([
    api.json<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify({ node: nodes, 'desired-state': ['running'] }) } }),
    api.json<(Service & { Spec: { Labels?: Record<string, string> } })[]>('GET', '/services'),
  ]);
  const rows = services.flatMap((s) => {
    const here = tasks.filter((t) => t.ServiceID === s.ID);
    if (!here.length) return [];
    const labels = Object.entries(s.Spec.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    return [{ Service: s.Spec.Name, Tasks: `${here.filter((t) => t.Status.State === 'running').length}/${here.length}`, Labels: labels }];
  }).sort((a, b) => a.Service.localeCompare(b.Service));
  write(renderFormat(str(p, 'format') ?? 'table {{.Service}}\t{{.Tasks}}\t{{.Labels}}', rows, { Service: 'SERVICE', Tasks: 'TASKS', Labels: 'LABELS' }));
}

/**
 * docker's `service logs`: a service's (or one task's) lines, each named
 * `service.slot.task@node    | ` from the details the managers send
 * (`--raw`: as they are), stdout and stderr kept apart.
 */
async function serviceLogs(api: ApiClient, p: Parsed): Promise<void> {
  const ref = p.args[0];
  const raw = bool(p, 'raw');
  // As docker's CLI: a service of that name or id first, else a task.
  const service = await findService(api, ref).catch((e: unknown) => {
    if (e instanceof DaemonError && e.code === 'not_found') return undefined;
    throw e;
  });
  const task = service ? undefined : await api.json<Task>('GET', `/tasks/${encodeURIComponent(ref)}`).catch((e: unknown) => {
    if (e instanceof DaemonError && e.code === 'not_found') throw invalidArgument(`no such task or service: ${ref}`);
    throw e;
  });
  const [tasks, services, nodes] = raw ? [[], [], []] : await Promise.all([
    api.json<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify(service ? { service: [service.ID] } : { id: [task!.ID] }) } }),
    api.json<Service[]>('GET', '/services'),
    api.json<Node[]>('GET', '/nodes'),
  ]);
  const names = new Map(services.map((s) => [s.ID, s.Spec.Name]));
  const hosts = new Map(nodes.map((n) => [n.ID, n.Description.Hostname]));
  const byId = new Map(tasks.map((t) => [t.ID, t]));
  const label = (details: string) => {
    const kv = Object.fromEntries(details.split(',').map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]));
    const t = byId.get(kv['com.docker.swarm.task.id']);
    const id = kv['com.docker.swarm.task.id'] ?? '';
    let name = `${names.get(kv['com.docker.swarm.service.id']) ?? kv['com.docker.swarm.service.id']}.${t?.Slot ?? kv['com.docker.swarm.node.id']}`;
    if (!bool(p, 'no-task-ids')) name += `.${bool(p, 'no-trunc') ? id : id.slice(0, 12)}`;
    return `${name}@${hosts.get(kv['com.docker.swarm.node.id']) ?? kv['com.docker.swarm.node.id']}    | `;
  };
  const stamps = bool(p, 'timestamps');
  const res = await api.request('GET', service ? `/services/${service.ID}/logs` : `/tasks/${task!.ID}/logs`, {
    query: { stdout: true, stderr: true, details: !raw, follow: bool(p, 'follow'), timestamps: stamps, tail: str(p, 'tail') ?? 'all', since: str(p, 'since') },
  });
  for await (const fr of demux(res as AsyncIterable<Buffer>)) {
    const out = fr.stream === 2 ? process.stderr : process.stdout;
    if (raw) {
      out.write(fr.data);
      continue;
    }
    for (const line of fr.data.toString().split('\n').slice(0, -1)) {
      // `<time> <details> <message>` (the time only when asked).
      const parts = line.split(' ');
      const time = stamps ? `${parts.shift()} ` : '';
      const details = parts.shift() ?? '';
      out.write(`${time}${label(details)}${parts.join(' ')}\n`);
    }
  }
}

/**
 * Follows a service until it has converged (its tasks running, its
 * roll-out done), saying so in plain lines, as docker's CLI does without
 * --detach; a roll-out that pauses is an error.
 */
async function converge(api: ApiClient, id: string, quiet: boolean): Promise<number> {
  let last = '';
  for (;;) {
    const [s] = await api.json<Service[]>('GET', '/services', { query: { status: true, filters: JSON.stringify({ id: [id] }) } });
    if (!s) throw invalidArgument(`service ${id} is gone`);
    const state = s.UpdateStatus?.State;
    if (state === 'paused' || state === 'rollback_paused') {
      process.stderr.write(`service ${state === 'paused' ? 'update' : 'rollback'} paused: ${s.UpdateStatus!.Message}\n`);
      return 1;
    }
    // Running tasks of the current spec (docker's CLI asks the same): the old ones of an update do not count.
    const current = await api.json<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify({ service: [id], 'desired-state': ['running'], '_up-to-date': ['true'] }) } });
    const running = current.filter((t) => t.Status.State === 'running').length;
    const desired = s.ServiceStatus?.DesiredTasks ?? 0;
    const line = `overall progress: ${running} out of ${desired} tasks${state === 'rollback_started' ? ` (rollback: ${s.UpdateStatus!.Message})` : ''}`;
    if (!quiet && line !== last) write(`${line}\n`);
    last = line;
    if (running === desired && state !== 'updating' && state !== 'rollback_started') {
      if (!quiet) write(`verify: Service ${id} converged\n`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const findService = async (api: ApiClient, ref: string) => api.json<Service>('GET', `/services/${encodeURIComponent(ref)}`);

/** docker's --with-registry-auth: this client's credentials for the image's registry, sent with the spec. */
function withAuth(p: Parsed, image: string | undefined): Record<string, string> {
  return bool(p, 'with-registry-auth') && image ? registryAuthHeader(serverOf(image)) : {};
}

async function update(api: ApiClient, s: Service, spec: ServiceSpecBody, p: Parsed, o: { rollback?: boolean } = {}): Promise<number> {
  await api.json('POST', `/services/${s.ID}/update`, { query: { version: s.Version.Index, ...(o.rollback ? { rollback: 'previous' } : {}) }, body: spec, headers: withAuth(p, spec.TaskTemplate?.ContainerSpec?.Image) });
  write(`${s.Spec.Name}\n`);
  return bool(p, 'detach') ? 0 : converge(api, s.ID, bool(p, 'quiet'));
}

const serviceCmds: Record<string, Command> = {
  create: {
    flags: CREATE_FLAGS, minArgs: 1, stopAtFirstArg: true, usage: 'service create [OPTIONS] IMAGE [COMMAND] [ARG...]',
    run: async (api, p) => {
      const spec = createSpec(p);
      const r = await api.json<{ ID: string }>('POST', '/services/create', { body: spec, headers: withAuth(p, spec.TaskTemplate?.ContainerSpec?.Image) });
      write(`${r.ID}\n`);
      return bool(p, 'detach') ? 0 : converge(api, r.ID, bool(p, 'quiet'));
    },
  },
  ls: {
    flags: [f('quiet', 'bool', 'q'), FILTER, FORMAT], usage: 'service ls [OPTIONS]',
    run: async (api, p) => {
      const list = (await api.json<Service[]>('GET', '/services', { query: { status: true, filters: filters(p) } })).sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
      if (bool(p, 'quiet')) return void write(list.map((s) => `${s.ID.slice(0, 12)}\n`).join(''));
      const rows = list.map((s) => ({
        ID: s.ID.slice(0, 12), Name: s.Spec.Name, Mode: s.Spec.Mode?.Global ? 'global' : 'replicated',
        Replicas: `${s.ServiceStatus?.RunningTasks ?? 0}/${s.ServiceStatus?.DesiredTasks ?? 0}`, Image: s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '', Ports: '',
      }));
      write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}', rows, { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' }));
    },
  },
  ps: {
    flags: [f('quiet', 'bool', 'q'), f('no-trunc'), FILTER, FORMAT], minArgs: 1, usage: 'service ps [OPTIONS] SERVICE [SERVICE...]',
    run: async (api, p) => showTasks(api, p, { service: p.args }),
  },
  inspect: { flags: [f('format', 'string', 'f'), f('pretty')], minArgs: 1, usage: 'service inspect [OPTIONS] SERVICE [SERVICE...]', run: (api, p) => inspectEach(api, p, (r) => `/services/${r}`) },
  update: {
    flags: UPDATE_FLAGS, minArgs: 1, maxArgs: 1, usage: 'service update [OPTIONS] SERVICE',
    run: async (api, p) => {
      const s = await findService(api, p.args[0]);
      if (bool(p, 'rollback')) return update(api, s, s.Spec, p, { rollback: true });
      return update(api, s, updateSpec(s.Spec, p), p);
    },
  },
  rollback: {
    flags: [f('detach', 'bool', 'd'), f('quiet', 'bool', 'q')], minArgs: 1, maxArgs: 1, usage: 'service rollback [OPTIONS] SERVICE',
    run: async (api, p) => {
      const s = await findService(api, p.args[0]);
      return update(api, s, s.Spec, p, { rollback: true });
    },
  },
  scale: {
    flags: [f('detach', 'bool', 'd')], minArgs: 1, usage: 'service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]',
    run: async (api, p) => {
      for (const a of p.args) if (!/^[^=]+=\d+$/.test(a)) throw invalidArgument(`invalid scale specifier '${a}': SERVICE=REPLICAS`);
      return each(p.args, async (a) => {
        const [ref, n] = a.split('=');
        const s = await findService(api, ref);
        if (s.Spec.Mode?.Global) throw invalidArgument(`scale can only be used with replicated mode: ${ref}`);
        await api.json('POST', `/services/${s.ID}/update`, { query: { version: s.Version.Index }, body: { ...s.Spec, Mode: { Replicated: { Replicas: Number(n) } } } });
        write(`${ref} scaled to ${n}\n`);
        if (!bool(p, 'detach')) await converge(api, s.ID, true);
      });
    },
  },
  logs: {
    flags: [f('follow', 'bool', 'f'), f('tail', 'string', 'n'), f('timestamps', 'bool', 't'), f('since', 'string'), f('raw'), f('no-task-ids'), f('no-trunc')], minArgs: 1, maxArgs: 1,
    usage: 'service logs [OPTIONS] SERVICE|TASK',
    run: (api, p) => serviceLogs(api, p),
  },
  rm: { flags: [], minArgs: 1, usage: 'service rm SERVICE [SERVICE...]', run: (api, p) => each(p.args, async (r) => { await api.call('DELETE', `/services/${encodeURIComponent(r)}`); write(`${r}\n`); }) },
};

const nodeCmds: Record<string, Command> = {
  ls: {
    flags: [f('quiet', 'bool', 'q'), FILTER, FORMAT], usage: 'node ls [OPTIONS]',
    run: async (api, p) => {
      const [nodes, info] = await Promise.all([api.json<Node[]>('GET', '/nodes', { query: { filters: filters(p) } }), api.json<{ Swarm: { NodeID: string } }>('GET', '/info')]);
      // docker's order: by host name.
      nodes.sort((a, b) => a.Description.Hostname.localeCompare(b.Description.Hostname, 'en', { numeric: true }));
      if (bool(p, 'quiet')) return void write(nodes.map((n) => `${n.ID}\n`).join(''));
      const rows = nodes.map((n) => ({
        ID: `${n.ID}${n.ID === info.Swarm.NodeID ? ' *' : ''}`, Hostname: n.Description.Hostname, Status: cap(n.Status.State), Availability: cap(n.Spec.Availability),
        ManagerStatus: n.ManagerStatus ? (n.ManagerStatus.Leader ? 'Leader' : cap(n.ManagerStatus.Reachability)) : '', EngineVersion: n.Description.Engine.EngineVersion,
      }));
      write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}', rows,
        { ID: 'ID', Hostname: 'HOSTNAME', Status: 'STATUS', Availability: 'AVAILABILITY', ManagerStatus: 'MANAGER STATUS', EngineVersion: 'ENGINE VERSION' }));
    },
  },
  inspect: { flags: [f('format', 'string', 'f'), f('pretty')], minArgs: 1, usage: 'node inspect [OPTIONS] self|NODE [NODE...]', run: (api, p) => inspectEach(api, p, (r) => `/nodes/${r}`) },
  ps: {
    flags: [f('quiet', 'bool', 'q'), f('no-trunc'), f('services'), FILTER, FORMAT], usage: 'node ps [OPTIONS] [NODE...]',
    run: async (api, p) => (bool(p, 'services') ? servicesOn(api, p, p.args.length ? p.args : ['self']) : showTasks(api, p, { node: p.args.length ? p.args : ['self'] })),
  },
  update: {
    flags: [f('availability', 'string'), f('role', 'string'), f('label-add', 'list'), f('label-rm', 'list')], minArgs: 1, maxArgs: 1, usage: 'node update [OPTIONS] NODE',
    run: async (api, p) => {
      const n = await api.json<Node & { Version: { Index: number } }>('GET', `/nodes/${encodeURIComponent(p.args[0])}`);
      const labels = { ...n.Spec.Labels };
      for (const k of list(p, 'label-rm')) delete labels[k];
      for (const kv of list(p, 'label-add')) labels[kv.split('=')[0]] = kv.includes('=') ? kv.slice(kv.indexOf('=') + 1) : '';
      const spec = { ...n.Spec, Labels: labels, ...(str(p, 'availability') ? { Availability: str(p, 'availability') } : {}), ...(str(p, 'role') ? { Role: str(p, 'role') } : {}) };
      await api.call('POST', `/nodes/${n.ID}/update`, { query: { version: n.Version.Index }, body: spec });
      write(`${p.args[0]}\n`);
    },
  },
  rm: { flags: [f('force', 'bool', 'f')], minArgs: 1, usage: 'node rm [OPTIONS] NODE [NODE...]', run: (api, p) => each(p.args, async (r) => { await api.call('DELETE', `/nodes/${encodeURIComponent(r)}`, { query: { force: bool(p, 'force') } }); write(`${r}\n`); }) },
};

const clusterCmds: Record<string, Command> = {
  init: {
    flags: [f('advertise-addr', 'string')], maxArgs: 0, usage: 'cluster init [--advertise-addr IP]',
    run: async (api, p) => {
      const id = await api.json<string>('POST', '/swarm/init', { body: { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: str(p, 'advertise-addr') ?? '' } });
      const [tokens, self] = await Promise.all([api.json<{ JoinTokens: { Worker: string } }>('GET', '/swarm'), api.json<Node & { ManagerStatus: { Addr: string } }>('GET', '/nodes/self')]);
      write(`Cluster initialized: this node (${id}) is now a manager.\n\nTo add a worker to this cluster, run:\n\n    berth cluster join --token ${tokens.JoinTokens.Worker} ${self.ManagerStatus.Addr}\n\n`
        + `To add a manager, run 'berth cluster join-token manager' and follow its instructions.\n`);
    },
  },
  join: {
    flags: [f('token', 'string'), f('advertise-addr', 'string')], minArgs: 1, maxArgs: 1, usage: 'cluster join --token TOKEN [--advertise-addr IP] HOST:PORT',
    run: async (api, p) => {
      if (!str(p, 'token')) throw invalidArgument('berth cluster join: --token is required');
      await api.call('POST', '/swarm/join', { body: { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: str(p, 'advertise-addr') ?? '', RemoteAddrs: p.args, JoinToken: str(p, 'token') } });
      write('This node joined the cluster.\n');
    },
  },
  'join-token': {
    flags: [f('quiet', 'bool', 'q'), f('rotate')], minArgs: 1, maxArgs: 1, usage: 'cluster join-token [-q] [--rotate] worker|manager',
    run: async (api, p) => {
      const role = p.args[0];
      if (role !== 'worker' && role !== 'manager') throw invalidArgument(`unknown role ${role}: worker or manager`);
      if (bool(p, 'rotate')) {
        const cur = await api.json<Swarm>('GET', '/swarm');
        await api.call('POST', '/swarm/update', { query: { version: cur.Version.Index, [role === 'worker' ? 'rotateWorkerToken' : 'rotateManagerToken']: true }, body: cur.Spec });
        if (!bool(p, 'quiet')) write(`Successfully rotated ${role} join token.\n\n`);
      }
      const [s, self] = await Promise.all([api.json<Swarm>('GET', '/swarm'), api.json<Node & { ManagerStatus: { Addr: string } }>('GET', '/nodes/self')]);
      const token = role === 'worker' ? s.JoinTokens.Worker : s.JoinTokens.Manager;
      write(bool(p, 'quiet') ? `${token}\n` : `To add a ${role} to this cluster, run the following command:\n\n    berth cluster join --token ${token} ${self.ManagerStatus.Addr}\n\n`);
    },
  },
  update: {
    flags: [f('rebalance-threshold', 'string'), f('cert-expiry', 'string'), f('task-history-limit', 'string')], maxArgs: 0,
    usage: 'cluster update [--rebalance-threshold LOAD] [--cert-expiry DURATION] [--task-history-limit N]',
    run: async (api, p) => {
      const threshold = str(p, 'rebalance-threshold');
      const history = str(p, 'task-history-limit');
      if (history !== undefined && !/^-?\d+$/.test(history)) throw invalidArgument(`invalid argument "${history}" for "--task-history-limit" flag: a whole number`);
      const s = await api.json<Swarm>('GET', '/swarm');
      const ca = caUpdate(p, s.Spec);
      if (threshold === undefined && !ca && history === undefined) throw invalidArgument('berth cluster update: nothing to change (--rebalance-threshold LOAD, 0 to never move; --cert-expiry DURATION; --task-history-limit N)');
      const labels = threshold === undefined ? s.Spec.Labels : { ...s.Spec.Labels, [REBALANCE_THRESHOLD_LABEL]: threshold };
      const orchestration = history === undefined ? {} : { Orchestration: { ...s.Spec.Orchestration, TaskHistoryRetentionLimit: Number(history) } };
      await api.call('POST', '/swarm/update', { query: { version: s.Version.Index }, body: { ...s.Spec, Labels: labels, ...ca, ...orchestration } });
      write('Cluster updated.\n');
    },
  },
  ...caCommands,
  leave: {
    flags: [f('force', 'bool', 'f')], maxArgs: 0, usage: 'cluster leave [--force]',
    run: async (api, p) => {
      await api.call('POST', '/swarm/leave', { query: { force: bool(p, 'force') } });
      write('This node left the cluster.\n');
    },
  },
  status: {
    flags: [FORMAT], maxArgs: 0, usage: 'cluster status',
    run: async (api, p) => {
      const info = await api.json<{ Swarm: { NodeID: string; LocalNodeState: string; ControlAvailable: boolean; Nodes?: number; Managers?: number; Error?: string; Cluster?: { ID: string } } }>('GET', '/info');
      const s = info.Swarm;
      if (str(p, 'format')) return void write(renderFormat(str(p, 'format')!, [s], {}));
      const lines = [`State: ${s.LocalNodeState}`];
      if (s.NodeID) lines.push(`Node: ${s.NodeID}${s.ControlAvailable ? ' (manager)' : ' (worker)'}`);
      if (s.Cluster) lines.push(`Cluster: ${s.Cluster.ID}`);
      if (s.Nodes !== undefined) lines.push(`Nodes: ${s.Nodes} (${s.Managers} managers)`);
      if (s.Error) lines.push(`Error: ${s.Error}`);
      write(`${lines.join('\n')}\n`);
    },
  },
};

/** The groups these commands add to the CLI (docker's `swarm` spelled as Berth's `cluster`, and as docker's). */
export const clusterGroups: Record<string, Record<string, Command>> = { cluster: clusterCmds, swarm: clusterCmds, node: nodeCmds, service: serviceCmds };
