import { invalidArgument } from '../../base/errors';
import { contains, formatCidr, formatIp, hostRange, overlaps, parseCidr, parseIp, pickFree, type Prefix } from '../../network/subnet';

/**
 * The cluster's address management, as pure functions: a network's subnet
 * and VXLAN id when it is made, and each task's address on it when the
 * task is made. The leader alone allocates (its writes are fenced), so
 * what it reads is all that is taken.
 */

/** swarm's default address pool: /24s of 10.0.0.0/8 (10.0.0.0/24 is left for the ingress network, as swarm's). */
function* clusterPool(): Generator<Prefix> {
  for (let i = 1; i < 65536; i++) yield { base: parseIp('10.0.0.0') + i * 256, bits: 24 };
}

/** VXLAN ids of cluster networks start above swarm's 4096 (lower ones are left for hand-made tunnels). */
export const FIRST_VNI = 4097;

export interface SubnetChoice {
  subnet: string;
  gateway: string;
}

/**
 * A new network's subnet and gateway: the one given (checked against the
 * cluster's other networks), else the first free /24 of the pool that
 * none of them nor `avoid` (the manager's own routes) overlaps.
 */
export function chooseSubnet(want: { subnet?: string; gateway?: string }, taken: string[], avoid: Prefix[]): SubnetChoice {
  const used = taken.map((s) => parseCidr(s));
  let subnet: Prefix;
  if (want.subnet) {
    subnet = parseCidr(want.subnet);
    if (subnet.bits > 29) throw invalidArgument(`invalid subnet ${want.subnet}: too small for a cluster network`);
    const clash = used.find((p) => overlaps(p, subnet));
    if (clash) throw invalidArgument(`invalid pool request: Pool overlaps with other one on this address space (${formatCidr(clash)})`);
  } else {
    if (want.gateway) throw invalidArgument('a gateway needs a subnet');
    const free = pickFree([...used, ...avoid], clusterPool());
    if (!free) throw invalidArgument('could not find an available, non-overlapping IPv4 address pool for the network');
    subnet = free;
  }
  const hosts = hostRange(subnet);
  const gateway = want.gateway ? parseIp(want.gateway) : hosts.first;
  if (!contains(subnet, gateway) || gateway < hosts.first || gateway > hosts.last) throw invalidArgument(`no matching subnet for gateway ${want.gateway}`);
  return { subnet: formatCidr(subnet), gateway: formatIp(gateway) };
}

/** The lowest VXLAN id no other network has. */
export function chooseVni(taken: number[]): number {
  const used = new Set(taken);
  let v = FIRST_VNI;
  while (used.has(v)) v++;
  return v;
}

/** What the allocator needs of a network. */
export interface AddressSpace {
  id: string;
  subnet: string;
  gateway: string;
}

/** An address a task holds or held: `live` while the task may still have a container using it. */
export interface Holder {
  ip: string;
  live: boolean;
}

/**
 * Addresses for `count` new tasks on a network: never one a live task
 * holds, never the gateway; of the rest, first those no task has held at
 * all, then those of ended tasks, oldest first (an address freed a moment
 * ago may still be in a peer's ARP cache or a client's connection). Fewer
 * than asked when the subnet is full.
 */
export function allocate(space: AddressSpace, holders: Holder[], count: number): string[] {
  if (count <= 0) return [];
  const subnet = parseCidr(space.subnet);
  const { first, last } = hostRange(subnet);
  const gateway = parseIp(space.gateway);
  const live = new Set<number>();
  // In the order they were held: the first ended is the first reused.
  const ended = new Map<number, number>();
  holders.forEach((h, i) => {
    const a = parseIp(h.ip);
    if (h.live) live.add(a);
    else if (!ended.has(a)) ended.set(a, i);
  });
  const out: string[] = [];
  for (let a = first; a <= last && out.length < count; a++) {
    if (a !== gateway && !live.has(a) && !ended.has(a)) out.push(formatIp(a));
  }
  if (out.length < count) {
    const reusable = [...ended].filter(([a]) => !live.has(a) && a !== gateway).sort((x, y) => x[1] - y[1]);
    for (const [a] of reusable.slice(0, count - out.length)) out.push(formatIp(a));
  }
  return out;
}

/** What a task asks of the allocator: an address on each of its networks. */
export interface AddressRequest {
  taskId: string;
  networks: string[];
}

/**
 * Addresses for new tasks on their networks, given what every task of the
 * cluster holds (in the order the tasks were made). A network whose subnet
 * is full leaves the task without an address on it: its node rejects it,
 * saying so.
 */
export function addressTasks(spaces: AddressSpace[], held: { addresses?: Record<string, string>; live: boolean }[], requests: AddressRequest[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>(requests.map((r) => [r.taskId, {}]));
  for (const space of spaces) {
    const asking = requests.filter((r) => r.networks.includes(space.id));
    if (!asking.length) continue;
    const holders = held.flatMap((h) => (h.addresses?.[space.id] ? [{ ip: h.addresses[space.id], live: h.live }] : []));
    const ips = allocate(space, holders, asking.length);
    asking.forEach((r, i) => {
      if (ips[i]) out.get(r.taskId)![space.id] = ips[i];
    });
  }
  return out;
}
