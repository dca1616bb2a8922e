import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { BerthError, conflict, invalidArgument, notFound } from '../../base/errors';
import { atomicWriteJson, mkdirp, readJsonIfExists } from '../../base/files';
import { newId } from '../../base/ids';
import { contains, formatCidr, formatIp, hostRange, overlaps, parseCidr, parseIp, pickFree, type Prefix, routePrefixes } from '../../network/subnet';

/** A network as the Engine API shows it, plus Berth's bridge name. */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null';
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string; IPRange?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** Berth: the Linux bridge of a bridge network. */
  bridge?: string;
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
  const c = n.IPAM.Config[0];
  return { subnet: parseCidr(c.Subnet), gateway: parseIp(c.Gateway), range: c.IPRange ? parseCidr(c.IPRange, 'ip-range') : undefined };
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
   * A new network's record from docker's create body: its name checked, its
   * subnet given or chosen from the default pool (avoiding every other
   * network and the host's routes), gateway and range checked against it.
   */
  plan(req: NetworkCreateRequest, o: { bridgeName: (id: string) => string; hostRoutes: string; predefined?: boolean }): NetworkRecord {
    const name = req.Name ?? '';
    // Names as docker takes them (spaces too); a slash could not be named in a request's path.
    if (!name.trim()) throw invalidArgument('network name cannot be empty');
    if (name.includes('/')) throw invalidArgument(`invalid network name "${name}": a name cannot hold a "/"`);
    if (!o.predefined && [...PREDEFINED, 'default'].includes(name)) throw new BerthError('forbidden', `operation is not permitted on predefined ${name} network `);
    // As dockerd: a second network of a name only when the client says CheckDuplicate false (the create then warns).
    if (req.CheckDuplicate !== false && this.all().some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = req.Driver || 'bridge';
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found (Berth has the bridge driver)`);
    if (req.EnableIPv6) throw invalidArgument('IPv6 networks are not supported by Berth yet');
    if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw notFound(`plugin "${req.IPAM.Driver}" not found`);
    const configs = req.IPAM?.Config ?? [];
    if (configs.length > 1) throw invalidArgument('Berth networks have one IPv4 subnet');
    const want = configs[0] ?? {};
    const taken = this.all().flatMap((n) => n.IPAM.Config.map((c) => ({ net: n, p: parseCidr(c.Subnet) })));
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
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? null, Config: [{ Subnet: formatCidr(subnet), Gateway: formatIp(gateway), ...(want.IPRange ? { IPRange: want.IPRange } : {}) }] },
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
}

/** Docker answers an overlapping pool with 403 Forbidden. */
function forbiddenOverlap(msg: string): BerthError {
  return new BerthError('forbidden', msg);
}
