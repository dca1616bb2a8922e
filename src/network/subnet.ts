import { invalidArgument } from '../base/errors';

/** An IPv4 prefix: the network address as a 32-bit number and its length. */
export interface Prefix {
  base: number;
  bits: number;
}

export function parseIp(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw invalidArgument(`invalid IPv4 address: ${s}`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const mask = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

/** `10.1.0.0/16`; the host bits must be zero, as docker requires of a subnet. */
export function parseCidr(s: string, what = 'subnet'): Prefix {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) > 32) throw invalidArgument(`invalid ${what} ${s}: expected an IPv4 CIDR such as 10.1.0.0/16`);
  const ip = parseIp(m[1]);
  const bits = Number(m[2]);
  const base = (ip & mask(bits)) >>> 0;
  if (base !== ip) throw invalidArgument(`invalid ${what} ${s}: it should be ${formatIp(base)}/${bits}`);
  return { base, bits };
}

export const formatCidr = (p: Prefix) => `${formatIp(p.base)}/${p.bits}`;
const size = (p: Prefix) => 2 ** (32 - p.bits);
const last = (p: Prefix) => p.base + size(p) - 1;

export function contains(p: Prefix, ip: number): boolean {
  return ip >= p.base && ip <= last(p);
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.base <= last(b) && b.base <= last(a);
}

/** The usable host addresses of a prefix (no network or broadcast address below /31). */
export function hostRange(p: Prefix): { first: number; last: number } {
  return p.bits >= 31 ? { first: p.base, last: last(p) } : { first: p.base + 1, last: last(p) - 1 };
}

/**
 * Docker's default address pools: 172.17.0.0/16 to 172.31.0.0/16, then
 * 192.168.0.0/20 steps up to 192.168.240.0/20.
 */
export function* defaultPool(): Generator<Prefix> {
  for (let i = 17; i <= 31; i++) yield { base: parseIp(`172.${i}.0.0`), bits: 16 };
  for (let i = 0; i < 256; i += 16) yield { base: parseIp(`192.168.${i}.0`), bits: 20 };
}

/** The first prefix of the pool that overlaps none of `taken` (networks, host routes). */
export function pickFree(taken: Prefix[], pool: Iterable<Prefix> = defaultPool()): Prefix | undefined {
  for (const p of pool) if (!taken.some((t) => overlaps(p, t))) return p;
  return undefined;
}

/** The prefixes of `ip -4 route` lines (`default` is no subnet). */
export function routePrefixes(text: string): Prefix[] {
  const out: Prefix[] = [];
  for (const line of text.split('\n')) {
    const dst = line.trim().split(/\s+/)[0];
    if (!dst || dst === 'default') continue;
    const [ip, bits] = dst.includes('/') ? dst.split('/') : [dst, '32'];
    try {
      const n = parseIp(ip);
      out.push({ base: (n & mask(Number(bits))) >>> 0, bits: Number(bits) });
    } catch {
      /* not an IPv4 route */
    }
  }
  return out;
}
