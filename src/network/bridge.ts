import { readFileSync } from 'node:fs';
import { CommandError, run } from '../base/exec';

/**
 * The Linux bridge of a network, made when the network is made (not at its
 * first container) so that its subnet shows in the host's routes at once and
 * the DNS server can listen on its gateway. CNI's bridge plugin adopts it.
 */
export async function ensureBridge(name: string, gatewayCidr: string, owner: string, gateway6Cidr?: string): Promise<void> {
  await run('ip', ['link', 'add', name, 'type', 'bridge']).catch((e) => {
    if (!(e instanceof CommandError && /File exists/.test(e.stderr))) throw e;
  });
  // A bridge that has another address is another network's (another daemon's, with the same --bridge):
  // adding ours beside it would put two daemons' containers, with two address plans, on one wire.
  const other = (await bridgeAddresses(name)).filter((a) => a !== gatewayCidr);
  if (other.length) throw new BridgeTakenError(name, other, gatewayCidr);
  await run('ip', ['addr', 'replace', gatewayCidr, 'dev', name]);
  // No duplicate address detection: the gateway is ours, and a tentative address cannot be bound (the DNS server, the bridge plugin's wait).
  if (gateway6Cidr) await run('ip', ['-6', 'addr', 'replace', gateway6Cidr, 'dev', name, 'nodad']);
  // A bridge without an address of its own takes its lowest port's, so its MAC
  // changes as containers come and go, and the ARP caches of the others point
  // at nothing: their gateway (and DNS) goes dark until the entries expire.
  await run('ip', ['link', 'set', name, 'address', bridgeMac(gatewayCidr), 'up']);
  // The alias names the daemon whose bridge it is, so its check can find the ones no record owns.
  await run('ip', ['link', 'set', 'dev', name, 'alias', owner]);
}

/** The links of a type (bridges, VXLAN devices) that carry the owner's alias (see ensureBridge). */
export async function ownedLinks(owner: string, type: 'bridge' | 'vxlan'): Promise<string[]> {
  const links = JSON.parse((await run('ip', ['-j', 'link', 'show', 'type', type])).stdout || '[]') as { ifname: string; ifalias?: string }[];
  return links.filter((l) => l.ifalias === owner).map((l) => l.ifname);
}

/** Whether the host has a network interface of that name. */
export function interfaceExists(name: string): boolean {
  // /proc/self/net is this process's network namespace; /sys/class/net is the one sysfs was mounted in (the host's, for a daemon in a lab node).
  return readFileSync('/proc/self/net/dev', 'utf8').split('\n').some((l) => l.slice(0, l.indexOf(':')).trim() === name);
}

/** The bridge exists with an address that is not this network's. */
export class BridgeTakenError extends Error {
  constructor(
    readonly bridge: string,
    readonly addresses: string[],
    readonly wanted: string,
  ) {
    super(`bridge ${bridge} already has address ${addresses.join(', ')}, not this network's ${wanted}: another network or daemon owns it`);
    this.name = 'BridgeTakenError';
  }
}

/** An interface's IPv4 addresses as CIDRs. */
export async function bridgeAddresses(name: string): Promise<string[]> {
  const out = (await run('ip', ['-4', '-o', 'addr', 'show', 'dev', name])).stdout;
  return [...out.matchAll(/\sinet (\S+)/g)].map((m) => m[1]);
}

/** A locally administered MAC made of the gateway's address (docker's 02:42 prefix), so it is stable and unique per host. */
export function bridgeMac(gatewayCidr: string): string {
  const bytes = gatewayCidr.split('/')[0].split('.').map(Number);
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** Deletes a link (a bridge, a VXLAN device); one already gone is as good. */
export async function removeLink(name: string): Promise<void> {
  await run('ip', ['link', 'del', name]).catch((e) => {
    if (!(e instanceof CommandError && /Cannot find device|does not exist/.test(e.stderr))) throw e;
  });
}

/** The host's IPv4 routes, as `ip -4 route` prints them (for choosing free subnets). */
export async function hostRoutes(): Promise<string> {
  return (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout;
}

/** Removes an interface's root and ingress qdiscs (what CNI's bandwidth plugin puts on a host veth). */
export async function clearQdiscs(dev: string): Promise<void> {
  for (const which of ['root', 'ingress']) {
    await run('tc', ['qdisc', 'del', 'dev', dev, which]).catch((e) => {
      // None there (tc says so in its words) is what we want; anything else is a failure.
      if (!(e instanceof CommandError && /handle of zero|Cannot find specified qdisc|Cannot find device|Invalid handle/i.test(e.stderr))) throw e;
    });
  }
}
