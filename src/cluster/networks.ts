import { BerthError, invalidArgument, notFound } from '../base/errors';
import type { NetworkCreateRequest, NetworkRecord } from '../engine/networks/network-store';
import { hostRoutes } from '../network/bridge';
import { routePrefixes } from '../network/subnet';
import { swarmId } from './core/ids';
import type { ClusterNetwork } from './core/model';
import { chooseSubnet, chooseVni } from './net/ipam';
import type { Snapshot } from './store/store';

/**
 * A new cluster network from docker's create body (driver overlay): its
 * name, subnet and VXLAN id checked against the cluster's networks, the
 * subnet chosen from swarm's pool (avoiding this manager's routes) unless
 * given. What Berth's overlay does not do yet is refused, saying so.
 */
export async function planNetwork(req: NetworkCreateRequest, snap: Snapshot): Promise<ClusterNetwork> {
  const name = req.Name ?? '';
  if (!name.trim()) throw invalidArgument('network name cannot be empty');
  if (name.includes('/')) throw invalidArgument(`invalid network name "${name}": a name cannot hold a "/"`);
  if (['bridge', 'host', 'none', 'default', 'ingress'].includes(name)) throw new BerthError('forbidden', `operation is not permitted on predefined ${name} network `);
  if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw notFound(`plugin "${req.IPAM.Driver}" not found`);
  if (req.EnableIPv6) throw invalidArgument('IPv6 on a cluster network is not supported yet');
  if (req.Attachable) throw invalidArgument('attachable cluster networks (containers outside services on them) are not supported yet');
  if (req.Options?.encrypted !== undefined) throw invalidArgument('encrypted cluster networks (IPsec between nodes) are not supported yet');
  const configs = req.IPAM?.Config ?? [];
  if (configs.length > 1) throw invalidArgument('a cluster network has one IPv4 subnet');
  const want = configs[0] ?? {};
  if (want.IPRange) throw invalidArgument('an ip-range on a cluster network is not supported (the cluster gives tasks their addresses from the whole subnet)');
  const { subnet, gateway } = chooseSubnet({ subnet: want.Subnet, gateway: want.Gateway }, snap.networks.map((n) => n.subnet), routePrefixes(await hostRoutes()));
  return {
    id: swarmId(), name, driver: 'overlay', subnet, gateway, vni: chooseVni(snap.networks.map((n) => n.vni)),
    labels: req.Labels ?? {}, attachable: false, internal: !!req.Internal, options: req.Options ?? {}, createdAt: new Date().toISOString(),
  };
}

/** A cluster network by id, name or unique id prefix (docker's order). */
export function findNetwork(snap: Snapshot, ref: string): ClusterNetwork {
  const prefixed = snap.networks.filter((n) => n.id.startsWith(ref));
  const n = snap.networks.find((x) => x.id === ref) ?? snap.networks.find((x) => x.name === ref) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
  if (!n) throw notFound(`network ${ref} not found`);
  return n;
}

/** The services whose current or previous spec joins the network (it stays while one does). */
export function networkUsers(snap: Snapshot, id: string): string[] {
  const on = (c: { networks?: { id: string }[] }) => (c.networks ?? []).some((n) => n.id === id);
  return snap.services.filter((s) => on(s.spec.container) || (s.previous && on(s.previous.spec.container))).map((s) => s.spec.name);
}

/** A cluster network as this node's engine lists its own (docker's /networks shape, without a bridge here). */
export function asNetworkRecord(n: ClusterNetwork): NetworkRecord {
  return {
    Name: n.name, Id: n.id, Created: n.createdAt, Scope: 'swarm', Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal, Attachable: n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Options: { ...n.options, 'com.docker.network.driver.overlay.vxlanid_list': String(n.vni) }, Labels: n.labels,
  };
}
