import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { BerthError, conflict, invalidArgument, notFound } from '../../base/errors';
import { atomicWriteJson, mkdirp, readJsonIfExists } from '../../base/files';
import { newId } from '../../base/ids';
import { contains, formatCidr, formatIp, hostRange, overlaps, parseCidr, parseIp, pickFree, type Prefix, routePrefixes } from '../../network/subnet';
import { contains6, formatCidr6, formatIp6, hostRange6, isIp6, overlaps6, parseCidr6, parseIp6, type Prefix6 } from '../../network/subnet6';

/** A network as the Engine API shows it, plus Berth's bridge name. */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local' | 'swarm';
  Driver: 'bridge' | 'host' | 'null' | 'overlay';
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string; IPRange?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** Berth: the Linux bridge of a bridge network (and of this node's part of an overlay one). */
  bridge?: string;
  /** Berth: an overlay network's VXLAN device on this node, a port of its bridge. */
  vxlan?: OverlayLink;
}

/** How this node's part of a cluster network reaches the others' (see network/vxlan). */
export interface OverlayLink {
  dev: string;
  vni: number;
  /** The UDP port VXLAN uses between nodes (swarm's data path port). */
  port: number;
  mtu: number;
}

/** What this node is told of a cluster network to make its part of it. */
export interface OverlaySpec {
  id: string;
  name: string;
  subnet: string;
  gateway: string;
  vni: number;
  port: number;
  internal: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string;
}

export interface NetworkCreateRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  CheckDuplicate?: boolean;
}

export const PREDEFINED = ['bridge', 'host', 'none'];

/** The address plan of a bridge network: subnet, gateway and the range containers get addresses from. */
export interface AddressPlan {
  subnet: Prefix;
  gateway: number;
  range?: Prefix;
}

export function addressPlan(n: NetworkRecord): AddressPlan {
  const c = n.IPAM.Config.find((x) => !isIp6(x.Subnet))!;
  return { subnet: parseCidr(c.Subnet), gateway: parseIp(c.Gateway), range: c.IPRange ? parseCidr(c.IPRange, 'ip-range') : undefined };
}

/** The IPv6 plan of a dual-stack network (`--ipv6`), if it has one. */
export interface AddressPlan6 {
  subnet: Prefix6;
  gateway: bigint;
  range?: Prefix6;
}

export function addressPlan6(n: NetworkRecord): AddressPlan6 | undefined {
  const c = n.EnableIPv6 ? n.IPAM.Config.find((x) => isIp6(x.Subnet)) : undefined;
  return c && { subnet: parseCidr6(c.Subnet), gateway: parseIp6(c.Gateway), range: c.IPRange ? parseCidr6(c.IPRange, 'ip-range') : undefined };
}

/**
 * Network records: networks/<id>.json. The predefined bridge, host and none
 * networks are made at first open, as docker's are.
 */
export class NetworkStore {
  private readonly byId = new Map<string, NetworkRecord>();

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<NetworkStore> {
    await mkdirp(root, 0o700);
    const s = new NetworkStore(root);
    for (const f of await fsp.readdir(root)) {
      if (!f.endsWith('.json')) continue;
      const rec = await readJsonIfExists<NetworkRecord>(path.join(root, f));
      if (rec) s.byId.set(rec.Id, rec);
    }
    return s;
  }

  all(): NetworkRecord[] {
    return [...this.byId.values()];
  }

  find(ref: string): NetworkRecord | undefined {
    const all = this.all();
    const byId = all.find((n) => n.Id === ref);
    if (byId) return byId;
    const byName = all.filter((n) => n.Name === ref);
    if (byName.length > 1) throw new BerthError('invalid_argument', `network ${ref} is ambiguous (${byName.length} matches found based on name)`);
    if (byName.length) return byName[0];
    const byPrefix = all.filter((n) => n.Id.startsWith(ref));
    if (byPrefix.length > 1) throw new BerthError('invalid_argument', `network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    return byPrefix[0];
  }

  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  async save(n: NetworkRecord): Promise<void> {
    await atomicWriteJson(path.join(this.root, `${n.Id}.json`), n);
    this.byId.set(n.Id, n);
  }

  async delete(n: NetworkRecord): Promise<void> {
    await fsp.rm(path.join(this.root, `${n.Id}.json`), { force: true });
    this.byId.delete(n.Id);
  }

  /**
   * This node's record of a cluster network: the cluster's subnet, checked
   * against this node's own networks (a clash is refused, naming the one).
   */
  planOverlay(o: OverlaySpec, mtu: number): NetworkRecord {
    const subnet = parseCidr(o.subnet);
    const clash = this.all().find((n) => n.Id !== o.id && n.IPAM.Config.some((c) => !isIp6(c.Subnet) && overlaps(parseCidr(c.Subnet), subnet)));
    if (clash) throw conflict(`cluster network ${o.name} (${o.subnet}) overlaps this node's network ${clash.Name} (${clash.IPAM.Config[0].Subnet})`);
    const short = o.id.slice(0, 12);
    return {
      Name: o.name, Id: o.id, Created: o.created, Scope: 'swarm', Driver: 'overlay', EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: o.subnet, Gateway: o.gateway }] },
      Internal: o.internal, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
      Options: { ...o.options, 'com.docker.network.driver.overlay.vxlanid_list': String(o.vni) }, Labels: o.labels,
      bridge: `bo-${short}`, vxlan: { dev: `vx-${short}`, vni: o.vni, port: o.port, mtu },
    };
  }

  /**
   * A new network's record from docker's create body: its name checked, its
   * subnet given or chosen from the default pool (avoiding every other
   * network and the host's routes), gateway and range checked against it.
   */
  plan(req: NetworkCreateRequest, o: { bridgeName: (id: string) => string; hostRoutes: string; predefined?: boolean; ipv6?: boolean }): NetworkRecord {
    const name = req.Name ?? '';
    // Names as docker takes them (spaces too); a slash could not be named in a request's path.
    if (!name.trim()) throw invalidArgument('network name cannot be empty');
    if (name.includes('/')) throw invalidArgument(`invalid network name "${name}": a name cannot hold a "/"`);
    if (!o.predefined && [...PREDEFINED, 'default'].includes(name)) throw new BerthError('forbidden', `operation is not permitted on predefined ${name} network `);
    // As dockerd: a second network of a name only when the client says CheckDuplicate false (the create then warns).
    if (req.CheckDuplicate !== false && this.all().some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = req.Driver || 'bridge';
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found (Berth has the bridge driver)`);
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw notFound(`plugin "${req.IPAM.Driver}" not found`);
    const configs = req.IPAM?.Config ?? [];
    const v6s = configs.filter((c) => isIp6(c.Subnet ?? c.Gateway ?? c.IPRange ?? ''));
    const v4s = configs.filter((c) => !v6s.includes(c));
    if (v4s.length > 1 || v6s.length > 1) throw invalidArgument('a Berth network has one IPv4 subnet and, with --ipv6, one IPv6 subnet');
    const want = v4s[0] ?? {};
    const v6 = this.planIpv6(req, v6s[0], o.ipv6);
    const taken = this.all().flatMap((n) => n.IPAM.Config.filter((c) => !isIp6(c.Subnet)).map((c) => ({ net: n, p: parseCidr(c.Subnet) })));
    let subnet: Prefix;
    if (want.Subnet) {
      subnet = parseCidr(want.Subnet);
      const clash = taken.find((t) => overlaps(t.p, subnet));
      if (clash) throw forbiddenOverlap(`invalid pool request: Pool overlaps with other one on this address space (network ${clash.net.Name}, ${formatCidr(clash.p)})`);
      if (subnet.bits > 30) throw invalidArgument(`invalid subnet ${want.Subnet}: too small for containers`);
    } else {
      if (want.Gateway || want.IPRange) throw invalidArgument('a gateway or ip-range needs a subnet');
      const free = pickFree([...taken.map((t) => t.p), ...routePrefixes(o.hostRoutes)]);
      if (!free) throw forbiddenOverlap('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      subnet = free;
    }
    const hosts = hostRange(subnet);
    const gateway = want.Gateway ? parseIp(want.Gateway) : hosts.first;
    if (!contains(subnet, gateway) || gateway < hosts.first || gateway > hosts.last) throw invalidArgument(`no matching subnet for gateway ${want.Gateway}`);
    if (want.IPRange) {
      const r = parseCidr(want.IPRange, 'ip-range');
      if (!contains(subnet, r.base) || r.bits < subnet.bits) throw invalidArgument(`ip-range ${want.IPRange} is not inside subnet ${formatCidr(subnet)}`);
    }
    const id = newId();
    return {
      Name: name,
      Id: id,
      Created: new Date().toISOString(),
      Scope: 'local',
      Driver: 'bridge',
      EnableIPv6: !!v6,
      IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? null, Config: [{ Subnet: formatCidr(subnet), Gateway: formatIp(gateway), ...(want.IPRange ? { IPRange: want.IPRange } : {}) }, ...(v6 ? [v6] : [])] },
      Internal: !!req.Internal,
      Attachable: !!req.Attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: req.Options ?? {},
      Labels: req.Labels ?? {},
      bridge: o.bridgeName(id),
    };
  }

  /**
   * The IPv6 half of a dual-stack network: a subnet is required (dockerd
   * 20.10 has no default IPv6 pool either), checked against the other
   * networks' and the host; the gateway is the subnet's first address
   * unless given. Nothing without --ipv6, as an IPv6 subnet alone does
   * nothing in docker either: it is refused, saying so.
   */
  private planIpv6(req: NetworkCreateRequest, want: { Subnet?: string; Gateway?: string; IPRange?: string } | undefined, hostHasIpv6 = true): { Subnet: string; Gateway: string; IPRange?: string } | undefined {
    if (!req.EnableIPv6) {
      if (want) throw invalidArgument(`an IPv6 subnet (${want.Subnet ?? want.Gateway ?? want.IPRange}) needs --ipv6 (EnableIPv6)`);
      return undefined;
    }
    if (!hostHasIpv6) throw invalidArgument('IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6 or no IPv6 in the kernel)');
    if (!want?.Subnet) throw invalidArgument('an IPv6 network needs an IPv6 subnet, e.g. --subnet fd00:1::/64: Berth has no default IPv6 pool (nor has dockerd 20.10)');
    const subnet = parseCidr6(want.Subnet);
    if (subnet.bits > 124) throw invalidArgument(`invalid subnet ${want.Subnet}: too small for containers`);
    const clash = this.all().flatMap((n) => n.IPAM.Config.filter((c) => isIp6(c.Subnet)).map((c) => ({ net: n, p: parseCidr6(c.Subnet) }))).find((t) => overlaps6(t.p, subnet));
    if (clash) throw forbiddenOverlap(`invalid pool request: Pool overlaps with other one on this address space (network ${clash.net.Name}, ${formatCidr6(clash.p)})`);
    const hosts = hostRange6(subnet);
    const gateway = want.Gateway ? parseIp6(want.Gateway) : hosts.first;
    if (!contains6(subnet, gateway) || gateway < hosts.first) throw invalidArgument(`no matching subnet for gateway ${want.Gateway}`);
    if (want.IPRange) {
      const r = parseCidr6(want.IPRange, 'ip-range');
      if (!contains6(subnet, r.base) || r.bits < subnet.bits) throw invalidArgument(`ip-range ${want.IPRange} is not inside subnet ${formatCidr6(subnet)}`);
    }
    return { Subnet: formatCidr6(subnet), Gateway: formatIp6(gateway), ...(want.IPRange ? { IPRange: want.IPRange } : {}) };
  }
}

/** Docker answers an overlapping pool with 403 Forbidden. */
function forbiddenOverlap(msg: string): BerthError {
  return new BerthError('forbidden', msg);
}
