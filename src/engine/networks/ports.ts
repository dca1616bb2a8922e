import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { internal, invalidArgument } from '../../base/errors';

/** One published port as CNI's portmap plugin takes it. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP: string;
}

/** docker's NetworkSettings.Ports: "80/tcp" → bindings, or null when only exposed. */
export type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

/** What a container asks for: a container port, the host address and the host ports it may have ("" = any). */
export interface PortRequest {
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP: string;
  hostPorts: [number, number] | 'any';
}

function portKey(k: string): { port: number; protocol: PortRequest['protocol'] } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(k);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalidArgument(`invalid port specification: "${k}"`);
  return { port: Number(m[1]), protocol: (m[2] ?? 'tcp') as PortRequest['protocol'] };
}

/** The port requests of HostConfig.PortBindings, plus every exposed port with -P (pure). */
export function portRequests(bindings: Record<string, { HostIp?: string; HostPort?: string }[]> | null | undefined, exposed: Record<string, object> | undefined, publishAll: boolean): PortRequest[] {
  const out: PortRequest[] = [];
  for (const [k, list] of Object.entries(bindings ?? {})) {
    const { port, protocol } = portKey(k);
    for (const b of list?.length ? list : [{}]) {
      const hp = b.HostPort ?? '';
      let hostPorts: PortRequest['hostPorts'] = 'any';
      if (hp !== '' && hp !== '0') {
        const m = /^(\d+)(?:-(\d+))?$/.exec(hp);
        const lo = Number(m?.[1]);
        const hi = Number(m?.[2] ?? m?.[1]);
        if (!m || lo < 1 || hi > 65535 || hi < lo) throw invalidArgument(`invalid host port: "${hp}"`);
        hostPorts = [lo, hi];
      }
      if (b.HostIp && !net.isIPv4(b.HostIp)) throw invalidArgument(`invalid host IP: "${b.HostIp}" (Berth publishes on IPv4)`);
      out.push({ containerPort: port, protocol, hostIP: b.HostIp ?? '', hostPorts });
    }
  }
  if (publishAll) {
    for (const k of Object.keys(exposed ?? {})) {
      const { port, protocol } = portKey(k);
      if (!out.some((r) => r.containerPort === port && r.protocol === protocol)) out.push({ containerPort: port, protocol, hostIP: '', hostPorts: 'any' });
    }
  }
  return out;
}

/**
 * docker's Ports map: the bindings made, and null for exposed ports without
 * one. A binding to any address of a dual-stack container is on IPv6 too,
 * shown as docker shows it (`::`).
 */
export function portMap(mappings: PortMapping[], exposed: Record<string, object> | undefined, dualStack = false): PortMap {
  const out: PortMap = {};
  for (const k of Object.keys(exposed ?? {})) out[k.includes('/') ? k : `${k}/tcp`] = null;
  for (const m of mappings) {
    const list = (out[`${m.containerPort}/${m.protocol}`] ??= []);
    list.push({ HostIp: m.hostIP || '0.0.0.0', HostPort: String(m.hostPort) });
    if (dualStack && !m.hostIP) list.push({ HostIp: '::', HostPort: String(m.hostPort) });
  }
  return out;
}

const sameAddress = (a: string, b: string) => !a || !b || a === '0.0.0.0' || b === '0.0.0.0' || a === b;

/**
 * Chooses host ports for the requests: a fixed port must be free of this
 * daemon's mappings and of the host's listeners; "any" takes a port the
 * kernel hands out. Nothing listens on a published port (the traffic is
 * DNAT'ed), so the check is made here, as docker's proxy would by binding.
 */
export async function allocatePorts(reqs: PortRequest[], inUse: PortMapping[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const taken = (m: PortMapping) => [...inUse, ...out].some((u) => u.protocol === m.protocol && u.hostPort === m.hostPort && sameAddress(u.hostIP, m.hostIP));
  for (const r of reqs) {
    let chosen: PortMapping | undefined;
    if (r.hostPorts === 'any') {
      for (let i = 0; i < 20 && !chosen; i++) {
        const m = { hostPort: await freePort(r.protocol, r.hostIP), containerPort: r.containerPort, protocol: r.protocol, hostIP: r.hostIP };
        if (!taken(m)) chosen = m;
      }
    } else {
      for (let p = r.hostPorts[0]; p <= r.hostPorts[1] && !chosen; p++) {
        const m = { hostPort: p, containerPort: r.containerPort, protocol: r.protocol, hostIP: r.hostIP };
        if (!taken(m) && (await canBind(r.protocol, r.hostIP, p))) chosen = m;
      }
    }
    if (!chosen) {
      const what = r.hostPorts === 'any' ? 'a free port' : r.hostPorts[0] === r.hostPorts[1] ? String(r.hostPorts[0]) : r.hostPorts.join('-');
      throw internal(`driver failed programming external connectivity: Bind for ${r.hostIP || '0.0.0.0'}:${what} failed: port is already allocated`);
    }
    out.push(chosen);
  }
  return out;
}

function canBind(protocol: string, ip: string, port: number): Promise<boolean> {
  return bindAt(protocol, ip, port).then(
    () => true,
    () => false,
  );
}

async function freePort(protocol: string, ip: string): Promise<number> {
  return bindAt(protocol, ip, 0);
}

/** Binds and lets go at once; resolves with the port bound. */
function bindAt(protocol: string, ip: string, port: number): Promise<number> {
  const host = ip || '0.0.0.0';
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(port, host, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
      return;
    }
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ port, host, exclusive: true }, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
