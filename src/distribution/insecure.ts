import * as net from 'node:net';

/**
 * docker's rule for which registries may be spoken to over plain HTTP: the
 * loopback ones always, and those the daemon's insecure-registries lists
 * (a host, host:port, or an IPv4 CIDR).
 */
export function isInsecure(host: string, listed: string[]): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name === '::1' || (net.isIPv4(name) && name.startsWith('127.'))) return true;
  for (const entry of listed) {
    if (entry === host || entry === name) return true;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(entry);
    if (cidr && net.isIPv4(name)) {
      const bits = Number(cidr[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if ((ipv4(name) & mask) >>> 0 === (ipv4(cidr[1]) & mask) >>> 0) return true;
    }
  }
  return false;
}

const ipv4 = (s: string) => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
