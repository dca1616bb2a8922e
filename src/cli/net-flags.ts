import { invalidArgument } from '../base/errors';

export type PortBindings = Record<string, { HostIp: string; HostPort: string }[]>;

function range(s: string, what: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2] ?? m?.[1]);
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw invalidArgument(`invalid ${what} "${s}" in "${spec}"`);
  return [lo, hi];
}

/**
 * docker's -p: [ip:][hostPort:]containerPort[/proto], ports or ranges
 * (`8000-8001:80-81`; a host range for one container port lets the daemon
 * pick one of it). Returns the bindings by "port/proto".
 */
export function parsePublish(specs: string[]): PortBindings {
  const out: PortBindings = {};
  for (const spec of specs) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
      if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalidArgument(`invalid proto: ${proto}`);
    }
    const parts = rest.split(':');
    if (parts.length > 3) throw invalidArgument(`invalid publish spec "${spec}" (IPv6 host addresses are not supported)`);
    const [ip, host, ctr] = parts.length === 3 ? parts : parts.length === 2 ? ['', parts[0], parts[1]] : ['', '', parts[0]];
    if (ip && !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw invalidArgument(`invalid IP address: ${ip}`);
    const [c0, c1] = range(ctr, 'containerPort', spec);
    const h = host ? range(host, 'hostPort', spec) : undefined;
    const n = c1 - c0 + 1;
    if (h && n > 1 && h[1] - h[0] + 1 !== n) throw invalidArgument(`invalid ranges specified for container and host Ports: "${spec}"`);
    for (let i = 0; i < n; i++) {
      let hostPort = '';
      if (h) hostPort = n > 1 ? String(h[0] + i) : h[0] === h[1] ? String(h[0]) : `${h[0]}-${h[1]}`;
      (out[`${c0 + i}/${proto}`] ??= []).push({ HostIp: ip, HostPort: hostPort });
    }
  }
  return out;
}

/** --expose: port[/proto] or a range. */
export function parseExpose(specs: string[]): Record<string, object> {
  const out: Record<string, object> = {};
  for (const spec of specs) {
    const [p, proto = 'tcp'] = spec.split('/');
    const [lo, hi] = range(p, 'port', spec);
    for (let x = lo; x <= hi; x++) out[`${x}/${proto}`] = {};
  }
  return out;
}

/** A rate as tc writes it: bit, kbit, mbit, gbit (bits per second) or bps, kbps, mbps, gbps (bytes per second); decimal units. */
