import * as fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { invalidArgument } from '../base/errors';
import { type ApiClient, DaemonError, demux } from '../client/client';
import { bool, type FlagSpec, list, type Parsed, str } from './flags';
import { parseExpose, parsePublish } from './net-flags';
import { parseBandwidth, parseRate } from '../base/rates';
import { DetachDetector, parseDetachKeys } from '../base/detach-keys';
import { detachKeysOf } from './credentials';
import { warn } from './output';
import { parseBpsDevice, parseIopsDevice, parseWeightDevice, ramInBytes } from './resource-flags';
import { HEALTH_FLAGS, healthcheck, intFlag, parseMount } from './value-flags';

/** `--network-bandwidth guarantee=..,limit=..,priority=..`; `none` lifts a share in `update`. */
function share(spec: string | undefined): { Guarantee: number; Limit: number; Priority: number } | undefined {
  if (spec === undefined) return undefined;
  const b = spec.trim() === 'none' ? { guarantee: 0, limit: 0, priority: 0 } : parseBandwidth(spec);
  return { Guarantee: b.guarantee, Limit: b.limit, Priority: b.priority };
}

/** Flags of `run` and `create`, by docker's names. */
export const CREATE_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', kind: 'bool' },
  { name: 'detach-keys', kind: 'string' },
  { name: 'interactive', short: 'i', kind: 'bool' },
  { name: 'tty', short: 't', kind: 'bool' },
  { name: 'rm', kind: 'bool' },
  { name: 'name', kind: 'string' },
  { name: 'env', short: 'e', kind: 'list' },
  { name: 'env-file', kind: 'list' },
  { name: 'entrypoint', kind: 'string' },
  { name: 'workdir', short: 'w', kind: 'string' },
  { name: 'user', short: 'u', kind: 'string' },
  { name: 'hostname', short: 'h', kind: 'string' },
  { name: 'domainname', kind: 'string' },
  { name: 'label', short: 'l', kind: 'list' },
  { name: 'volume', short: 'v', kind: 'list' },
  { name: 'mount', kind: 'list' },
  { name: 'storage-opt', kind: 'list' },
  { name: 'tmpfs', kind: 'list' },
  { name: 'memory', short: 'm', kind: 'string' },
  { name: 'memory-swap', kind: 'string' },
  { name: 'memory-reservation', kind: 'string' },
  { name: 'cpus', kind: 'string' },
  { name: 'cpu-shares', short: 'c', kind: 'string' },
  { name: 'cpu-period', kind: 'string' },
  { name: 'cpu-quota', kind: 'string' },
  { name: 'cpuset-cpus', kind: 'string' },
  { name: 'cpuset-mems', kind: 'string' },
  { name: 'pids-limit', kind: 'string' },
  { name: 'blkio-weight', kind: 'string' },
  { name: 'blkio-weight-device', kind: 'list' },
  { name: 'device-read-bps', kind: 'list' },
  { name: 'device-write-bps', kind: 'list' },
  { name: 'device-read-iops', kind: 'list' },
  { name: 'device-write-iops', kind: 'list' },
  { name: 'kernel-memory', kind: 'string' },
  { name: 'memory-swappiness', kind: 'string' },
  { name: 'cpu-rt-period', kind: 'string' },
  { name: 'cpu-rt-runtime', kind: 'string' },
  { name: 'shm-size', kind: 'string' },
  { name: 'privileged', kind: 'bool' },
  { name: 'cap-add', kind: 'list' },
  { name: 'cap-drop', kind: 'list' },
  { name: 'security-opt', kind: 'list' },
  { name: 'read-only', kind: 'bool' },
  { name: 'init', kind: 'bool' },
  { name: 'restart', kind: 'string' },
  { name: 'network', kind: 'string' },
  { name: 'net', kind: 'string' },
  { name: 'log-driver', kind: 'string' },
  { name: 'log-opt', kind: 'list' },
  { name: 'runtime', kind: 'string' },
  { name: 'stop-signal', kind: 'string' },
  { name: 'stop-timeout', kind: 'string' },
  { name: 'add-host', kind: 'list' },
  { name: 'dns', kind: 'list' },
  { name: 'dns-search', kind: 'list' },
  { name: 'dns-option', kind: 'list' },
  { name: 'group-add', kind: 'list' },
  { name: 'sysctl', kind: 'list' },
  { name: 'pid', kind: 'string' },
  { name: 'ipc', kind: 'string' },
  { name: 'uts', kind: 'string' },
  { name: 'oom-kill-disable', kind: 'bool' },
  { name: 'oom-score-adj', kind: 'string' },
  { name: 'publish', short: 'p', kind: 'list' },
  { name: 'publish-all', short: 'P', kind: 'bool' },
  { name: 'expose', kind: 'list' },
  { name: 'ip', kind: 'string' },
  { name: 'ip6', kind: 'string' },
  { name: 'mac-address', kind: 'string' },
  { name: 'device-cgroup-rule', kind: 'list' },
  { name: 'link', kind: 'list' },
  { name: 'network-alias', kind: 'list' },
  { name: 'network-ingress-rate', kind: 'string' },
  { name: 'network-egress-rate', kind: 'string' },
  { name: 'network-bandwidth', kind: 'string' },
  ...HEALTH_FLAGS,
  { name: 'health-on-failure', kind: 'string' },
];

function keyValues(items: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of items) {
    const eq = i.indexOf('=');
    if (eq === 0) throw invalidArgument(`invalid ${what}: ${i}`);
    out[eq < 0 ? i : i.slice(0, eq)] = eq < 0 ? '' : i.slice(eq + 1);
  }
  return out;
}

/** `--storage-opt size=10G`, as docker's CLI parses it: key=value, or an error. */
function storageOpts(items: string[]): Record<string, string> | undefined {
  if (!items.length) return undefined;
  for (const i of items) if (!/^[^=]+=/.test(i)) throw invalidArgument(`invalid storage option ${JSON.stringify(i)}`);
  return keyValues(items, 'storage option');
}

/** `KEY` alone takes the value from this shell's environment, as docker does. */
function envList(p: Parsed): string[] {
  const out: string[] = [];
  for (const f of list(p, 'env-file')) {
    const text = fs.readFileSync(f, 'utf8');
    for (const line of text.split('\n')) {
      const l = line.trim();
      if (l && !l.startsWith('#')) out.push(l);
    }
  }
  out.push(...list(p, 'env'));
  return out.flatMap((e) => (e.includes('=') ? [e] : process.env[e] !== undefined ? [`${e}=${process.env[e]}`] : []));
}

function restartPolicy(s: string | undefined): { Name: string; MaximumRetryCount: number } | undefined {
  if (!s) return undefined;
  const [name, count] = s.split(':');
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name)) throw invalidArgument(`invalid restart policy format: ${s}`);
  if (count !== undefined && (name !== 'on-failure' || !/^\d+$/.test(count))) throw invalidArgument(`invalid restart policy format: ${s}`);
  return { Name: name, MaximumRetryCount: count ? Number(count) : 0 };
}

/** `seccomp=<file>` is sent as the profile's JSON, as docker's CLI does. */
function securityOpt(o: string): string {
  const m = /^seccomp[=:](.+)$/.exec(o);
  if (!m || m[1] === 'unconfined' || m[1] === 'default' || m[1].trim().startsWith('{')) return o;
  try {
    return `seccomp=${JSON.stringify(JSON.parse(fs.readFileSync(m[1], 'utf8')))}`;
  } catch (e) {
    throw invalidArgument(`opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
  }
}

/** The create body for `run`/`create` flags and `IMAGE [COMMAND...]`. */
export function createBody(p: Parsed): { name?: string; body: Record<string, unknown> } {
  const [image, ...cmd] = p.args;
  if (!image) throw invalidArgument('"create" requires at least 1 argument.');
  const network = str(p, 'network') ?? str(p, 'net') ?? 'default';
  const endpoint: Record<string, unknown> = {};
  if (str(p, 'ip') || str(p, 'ip6')) endpoint.IPAMConfig = { IPv4Address: str(p, 'ip'), IPv6Address: str(p, 'ip6') };
  if (list(p, 'network-alias').length) endpoint.Aliases = list(p, 'network-alias');
  if (Object.keys(endpoint).length && ['default', 'bridge', 'host', 'none'].includes(network)) throw invalidArgument('--ip, --ip6 and --network-alias need a user-defined network');
  const rate = (flag: string) => (str(p, flag) === undefined ? undefined : parseRate(str(p, flag)!, `"--${flag}" flag`));
  const entrypoint = str(p, 'entrypoint');
  const cpus = str(p, 'cpus');
  let nanoCpus: number | undefined;
  if (cpus !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(cpus)) throw invalidArgument(`invalid argument "${cpus}" for "--cpus" flag: failed to parse ${cpus} as a rational number`);
    nanoCpus = Math.round(Number(cpus) * 1e9);
  }
  const memSwap = str(p, 'memory-swap');
  const tmpfs: Record<string, string> = {};
  for (const t of list(p, 'tmpfs')) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  const logOpts = keyValues(list(p, 'log-opt'), 'log-opt');
  const stopTimeout = intFlag(p, 'stop-timeout');
  const interactive = bool(p, 'interactive');
  const body = {
    Hostname: str(p, 'hostname') ?? '',
    Domainname: str(p, 'domainname') ?? '',
    User: str(p, 'user') ?? '',
    AttachStdin: interactive && !bool(p, 'detach'),
    AttachStdout: !bool(p, 'detach'),
    AttachStderr: !bool(p, 'detach'),
    Tty: bool(p, 'tty'),
    OpenStdin: interactive,
    StdinOnce: interactive && !bool(p, 'detach'),
    Env: envList(p),
    Cmd: cmd.length ? cmd : null,
    Image: image,
    WorkingDir: str(p, 'workdir') ?? '',
    MacAddress: str(p, 'mac-address'),
    Entrypoint: entrypoint === undefined ? null : entrypoint === '' ? [] : [entrypoint],
    Labels: keyValues(list(p, 'label'), 'label'),
    StopSignal: str(p, 'stop-signal'),
    StopTimeout: stopTimeout,
    Healthcheck: healthcheck(p),
    ExposedPorts: list(p, 'expose').length ? parseExpose(list(p, 'expose')) : undefined,
    HostConfig: {
      Binds: list(p, 'volume'),
      Mounts: list(p, 'mount').map(parseMount),
      Tmpfs: tmpfs,
      NetworkMode: network,
      PortBindings: parsePublish(list(p, 'publish')),
      PublishAllPorts: bool(p, 'publish-all'),
      NetworkIngressRate: rate('network-ingress-rate'),
      NetworkEgressRate: rate('network-egress-rate'),
      NetworkBandwidth: share(str(p, 'network-bandwidth')),
      RestartPolicy: restartPolicy(str(p, 'restart')),
      HealthOnFailure: str(p, 'health-on-failure'),
      AutoRemove: bool(p, 'rm'),
      Privileged: bool(p, 'privileged'),
      CapAdd: list(p, 'cap-add'),
      CapDrop: list(p, 'cap-drop'),
      SecurityOpt: list(p, 'security-opt').map(securityOpt),
      ReadonlyRootfs: bool(p, 'read-only'),
      Init: bool(p, 'init') ? true : null,
      Memory: str(p, 'memory') ? ramInBytes(str(p, 'memory')!, '--memory') : 0,
      MemorySwap: memSwap === '-1' ? -1 : memSwap ? ramInBytes(memSwap, '--memory-swap') : 0,
      MemoryReservation: str(p, 'memory-reservation') ? ramInBytes(str(p, 'memory-reservation')!, '--memory-reservation') : 0,
      NanoCpus: nanoCpus ?? 0,
      CpuShares: intFlag(p, 'cpu-shares') ?? 0,
      CpuPeriod: intFlag(p, 'cpu-period') ?? 0,
      CpuQuota: intFlag(p, 'cpu-quota') ?? 0,
      CpusetCpus: str(p, 'cpuset-cpus') ?? '',
      CpusetMems: str(p, 'cpuset-mems') ?? '',
      PidsLimit: intFlag(p, 'pids-limit') ?? null,
      BlkioWeight: intFlag(p, 'blkio-weight') ?? 0,
      BlkioWeightDevice: list(p, 'blkio-weight-device').map(parseWeightDevice),
      BlkioDeviceReadBps: list(p, 'device-read-bps').map((d) => parseBpsDevice(d, '--device-read-bps')),
      BlkioDeviceWriteBps: list(p, 'device-write-bps').map((d) => parseBpsDevice(d, '--device-write-bps')),
      BlkioDeviceReadIOps: list(p, 'device-read-iops').map((d) => parseIopsDevice(d, '--device-read-iops')),
      BlkioDeviceWriteIOps: list(p, 'device-write-iops').map((d) => parseIopsDevice(d, '--device-write-iops')),
      KernelMemory: str(p, 'kernel-memory') ? ramInBytes(str(p, 'kernel-memory')!, '--kernel-memory') : 0,
      MemorySwappiness: intFlag(p, 'memory-swappiness'),
      CpuRealtimePeriod: intFlag(p, 'cpu-rt-period') ?? 0,
      CpuRealtimeRuntime: intFlag(p, 'cpu-rt-runtime') ?? 0,
      ShmSize: str(p, 'shm-size') ? ramInBytes(str(p, 'shm-size')!, '--shm-size') : 0,
      LogConfig: { Type: str(p, 'log-driver') ?? '', Config: logOpts },
      StorageOpt: storageOpts(list(p, 'storage-opt')),
      Runtime: str(p, 'runtime') ?? '',
      ExtraHosts: list(p, 'add-host'),
      Dns: list(p, 'dns'),
      DnsSearch: list(p, 'dns-search'),
      DnsOptions: list(p, 'dns-option'),
      GroupAdd: list(p, 'group-add'),
      Sysctls: keyValues(list(p, 'sysctl'), 'sysctl'),
      PidMode: str(p, 'pid') ?? '',
      IpcMode: str(p, 'ipc') ?? '',
      UTSMode: str(p, 'uts') ?? '',
      OomKillDisable: bool(p, 'oom-kill-disable'),
      DeviceCgroupRules: list(p, 'device-cgroup-rule'),
      Links: list(p, 'link'),
      OomScoreAdj: intFlag(p, 'oom-score-adj') ?? 0,
    },
    NetworkingConfig: Object.keys(endpoint).length ? { EndpointsConfig: { [network]: endpoint } } : undefined,
  };
  return { name: str(p, 'name'), body };
}

/**
 * Pumps an attached stream to this terminal: frames to stdout/stderr (raw
 * with a tty), our stdin to the container, terminal size changes. Resolves
 * when the container side ends the stream.
 */
export async function pumpTerminal(conn: Duplex, o: { tty: boolean; stdin: boolean; resize?: (h: number, w: number) => Promise<unknown>; detachKeys?: string }): Promise<'ended' | 'detached'> {
  const stdin = process.stdin;
  const raw = o.tty && o.stdin && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  // As docker's CLI: on a terminal the detach keys are caught here too, and the command ends with the container running.
  const detector = o.tty && o.stdin ? new DetachDetector(parseDetachKeys(o.detachKeys)) : undefined;
  let detached = false;
  const onResize = () => {
    if (process.stdout.isTTY) void o.resize?.(process.stdout.rows, process.stdout.columns).catch(() => {});
  };
  if (o.tty) {
    onResize();
    process.stdout.on('resize', onResize);
  }
  if (o.stdin) {
    stdin.on('data', (d: Buffer) => {
      if (detached) return;
      const { pass, detach } = detector ? detector.feed(d) : { pass: d, detach: false };
      if (pass.length) conn.write(pass);
      if (detach) {
        detached = true;
        conn.destroy();
      }
    });
    stdin.on('end', () => (conn as Duplex & { end(): void }).end());
  }
  try {
    if (o.tty) for await (const c of conn) process.stdout.write(c as Buffer);
    else for await (const f of demux(conn as AsyncIterable<Buffer>)) (f.stream === 2 ? process.stderr : process.stdout).write(f.data);
  } catch (e) {
    if (!detached) throw e;
  } finally {
    if (raw) stdin.setRawMode(false);
    process.stdout.off('resize', onResize);
    if (o.stdin) stdin.pause();
  }
  return detached ? 'detached' : 'ended';
}

/** `run`: create, attach, wait and start as docker does; returns the container's exit code. */
export async function runContainer(api: ApiClient, p: Parsed): Promise<number> {
  const { name, body } = createBody(p);
  const detach = bool(p, 'detach');
  let created: { Id: string; Warnings: string[] };
  try {
    created = await api.json('POST', '/containers/create', { query: { name }, body });
  } catch (e) {
    if (e instanceof DaemonError && e.code === 'not_found' && /No such image/.test(e.message)) {
      process.stderr.write(`Unable to find image '${body.Image}' locally\n`);
    }
    throw e;
  }
  warn(created.Warnings);
  return startCreated(api, created.Id, { detach, tty: bool(p, 'tty'), interactive: bool(p, 'interactive'), detachKeys: str(p, 'detach-keys'), rm: bool(p, 'rm') });
}

/**
 * Starts a created container as `run` does: detached (its id printed), or
 * attached to this terminal until it exits (its exit code returned) or is
 * detached from.
 */
export async function startCreated(api: ApiClient, id: string, o: { detach: boolean; tty: boolean; interactive: boolean; detachKeys?: string; rm: boolean }): Promise<number> {
  if (o.detach) {
    await api.call('POST', `/containers/${id}/start`);
    process.stdout.write(`${id}\n`);
    return 0;
  }
  const { tty, interactive } = o;
  const detachKeys = detachKeysOf(o.detachKeys);
  const conn = await api.upgrade(`/containers/${id}/attach`, { query: { stream: true, stdin: interactive, stdout: true, stderr: true, detachKeys } });
  const unwait = new AbortController();
  const waiting = api.json<{ StatusCode: number; Error?: { Message: string } | null }>('POST', `/containers/${id}/wait`, { query: { condition: o.rm ? 'removed' : 'next-exit' }, signal: unwait.signal });
  waiting.catch(() => {});
  const pumping = pumpTerminal(conn, { tty, stdin: interactive, detachKeys, resize: (h, w) => api.call('POST', `/containers/${id}/resize`, { query: { h, w } }) });
  try {
    await api.call('POST', `/containers/${id}/start`);
  } catch (e) {
    conn.destroy();
    await pumping.catch(() => {});
    await waiting.catch(() => undefined);
    const msg = (e as Error).message;
    process.stderr.write(`Error response from daemon: ${msg}\n`);
    // As docker's CLI: 127 not found, 126 not executable, 125 any other failure to start.
    return /executable file not found|no such file or directory/.test(msg) ? 127 : /permission denied/.test(msg) ? 126 : 125;
  }
  // Detached: the container runs on, and the command ends (docker's CLI says nothing either).
  if ((await pumping) === 'detached') {
    unwait.abort();
    return 0;
  }
  const r = await waiting;
  if (r.Error?.Message) process.stderr.write(`Error: ${r.Error.Message}\n`);
  return r.StatusCode;
}
