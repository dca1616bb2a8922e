import { invalidArgument } from '../base/errors';

/** An IPv6 prefix: the network address as a 128-bit number and its length. */
export interface Prefix6 {
  base: bigint;
  bits: number;
}

const ALL = (1n << 128n) - 1n;

export function parseIp6(s: string): bigint {
  const bad = () => invalidArgument(`invalid IPv6 address: ${s}`);
  if (!/^[0-9a-fA-F:]+$/.test(s) || s.split('::').length > 2) throw bad();
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const groups = (x: string) => (x ? x.split(':') : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const missing = 8 - h.length - t.length;
  if ((tail === undefined && missing !== 0) || (tail !== undefined && missing < 1)) throw bad();
  const all = [...h, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...t];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw bad();
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The canonical text (RFC 5952): lower case, leading zeros dropped, the longest run of zero groups as `::`. */
export function formatIp6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

const mask6 = (bits: number) => (bits === 0 ? 0n : (ALL << BigInt(128 - bits)) & ALL);

export const isIp6 = (s: string) => s.includes(':');

/** `fd00::/64`; the host bits must be zero, as docker requires of a subnet. */
export function parseCidr6(s: string, what = 'subnet'): Prefix6 {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(s);
  if (!m || Number(m[2]) > 128) throw invalidArgument(`invalid ${what} ${s}: expected an IPv6 CIDR such as fd00:1::/64`);
  const ip = parseIp6(m[1]);
  const bits = Number(m[2]);
  const base = ip & mask6(bits);
  if (base !== ip) throw invalidArgument(`invalid ${what} ${s}: it should be ${formatIp6(base)}/${bits}`);
  return { base, bits };
}

export const formatCidr6 = (p: Prefix6) => `${formatIp6(p.base)}/${p.bits}`;
const last6 = (p: Prefix6) => p.base | (~mask6(p.bits) & ALL);

export function contains6(p: Prefix6, ip: bigint): boolean {
  return ip >= p.base && ip <= last6(p);
}

export function overlaps6(a: Prefix6, b: Prefix6): boolean {
  return a.base <= last6(b) && b.base <= last6(a);
}

/** The addresses containers may have: all but the subnet-router anycast address (the prefix itself). */
export function hostRange6(p: Prefix6): { first: bigint; last: bigint } {
  return { first: p.base + 1n, last: last6(p) };
}
