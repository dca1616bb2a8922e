import { invalidArgument } from '../../base/errors';

/** A legacy link as docker keeps it in HostConfig.Links: `/target:/container/alias`. */
export interface Link {
  target: string;
  alias: string;
}

/** `name[:alias]` (what clients send) or `/name:/container/alias` (what docker keeps) → the link. */
export function parseLink(spec: string): Link {
  const [rawTarget, rawAlias, extra] = spec.split(':');
  if (!rawTarget || extra !== undefined) throw invalidArgument(`invalid link format: ${spec}`);
  const target = rawTarget.replace(/^\//, '');
  const alias = (rawAlias ?? target).split('/').pop()!;
  if (!target || !alias) throw invalidArgument(`invalid link format: ${spec}`);
  return { target, alias };
}

export function linkString(l: Link, container: string): string {
  return `/${l.target}:/${container}/${l.alias}`;
}

/** What a linked container offers: its address, name, exposed ports and environment. */
export interface LinkedContainer {
  name: string;
  ip: string;
  ports: string[];
  env: string[];
}

/**
 * docker's link environment: ALIAS_PORT (the lowest port, tcp first),
 * per port ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO], runs of consecutive
 * ports as _START/_END too, ALIAS_NAME, and the target's own environment as
 * ALIAS_ENV_<key> (HOME and PATH left out).
 */
export function linkEnv(container: string, alias: string, t: LinkedContainer): string[] {
  const a = alias.toUpperCase().replace(/-/g, '_');
  const ports = t.ports.map((p) => {
    const [port, proto = 'tcp'] = p.split('/');
    return { port: Number(port), proto };
  }).sort((x, y) => x.port - y.port || (x.proto === 'tcp' ? -1 : y.proto === 'tcp' ? 1 : x.proto.localeCompare(y.proto)));
  const env: string[] = [];
  if (ports.length) env.push(`${a}_PORT=${ports[0].proto}://${t.ip}:${ports[0].port}`);
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1].port === ports[j].port + 1) j++;
    const p = ports[i];
    if (j > i) {
      const pre = `${a}_PORT_${p.port}_${p.proto.toUpperCase()}`;
      env.push(`${pre}_START=${p.proto}://${t.ip}:${p.port}`, `${pre}_ADDR=${t.ip}`, `${pre}_PORT_START=${p.port}`, `${pre}_PORT_END=${ports[j].port}`);
    }
    for (let k = i; k <= j; k++) {
      const q = ports[k];
      const pre = `${a}_PORT_${q.port}_${q.proto.toUpperCase()}`;
      env.push(`${pre}=${q.proto}://${t.ip}:${q.port}`, `${pre}_ADDR=${t.ip}`, `${pre}_PORT=${q.port}`, `${pre}_PROTO=${q.proto}`);
    }
    i = j + 1;
  }
  env.push(`${a}_NAME=/${container}/${alias}`);
  for (const e of t.env) {
    const i = e.indexOf('=');
    if (i <= 0) continue;
    const k = e.slice(0, i);
    if (k !== 'HOME' && k !== 'PATH') env.push(`${a}_ENV_${k}=${e.slice(i + 1)}`);
  }
  return env;
}
