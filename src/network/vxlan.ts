import { CommandError, run } from '../base/exec';
import { bridgeMac } from './bridge';

/** VXLAN's header and the outer UDP/IP ones: what a tunnelled frame costs of the underlay's MTU. */
export const VXLAN_OVERHEAD = 50;

/**
 * A network's VXLAN device, a port of its bridge: frames for containers on
 * other nodes leave through it, in UDP to that node. No learning and no
 * flooding: each remote container's MAC has a forwarding entry to its
 * node, and its address a neighbour entry the device answers ARP from
 * (`proxy`), so no broadcast crosses nodes and each node's bridge can hold
 * the same gateway address.
 */
export async function ensureVxlan(name: string, o: { vni: number; port: number; bridge: string; mtu: number; owner: string }): Promise<void> {
  await run('ip', ['link', 'add', name, 'mtu', String(o.mtu), 'type', 'vxlan', 'id', String(o.vni), 'dstport', String(o.port), 'nolearning', 'proxy']).catch((e) => {
    if (!(e instanceof CommandError && /File exists/.test(e.stderr))) throw e;
  });
  await run('ip', ['link', 'set', 'dev', name, 'alias', o.owner]);
  await run('ip', ['link', 'set', name, 'master', o.bridge, 'up']);
}

/** A container on another node: its address, and that node's underlay address (the tunnel's far end). */
export interface VxlanPeer {
  ip: string;
  vtep: string;
}

/**
 * Sets the device's entries to exactly `peers`: each one's MAC (made of its
 * address, as the containers' are) forwarded to its node, its address
 * answered locally; entries of containers gone are removed.
 */
export async function setVxlanPeers(dev: string, peers: VxlanPeer[]): Promise<void> {
  const want = new Map(peers.map((p) => [bridgeMac(p.ip), p]));
  const fdb = JSON.parse((await run('bridge', ['-j', 'fdb', 'show', 'dev', dev])).stdout || '[]') as { mac: string; dst?: string }[];
  const neigh = JSON.parse((await run('ip', ['-j', 'neigh', 'show', 'dev', dev])).stdout || '[]') as { dst: string; lladdr?: string }[];
  for (const e of fdb) {
    // The device's own entries (none with a far end) are the kernel's.
    if (!e.dst) continue;
    const p = want.get(e.mac);
    if (!p || p.vtep !== e.dst) await quiet(run('bridge', ['fdb', 'del', e.mac, 'dev', dev, 'dst', e.dst, 'self']));
  }
  for (const e of neigh) {
    const p = want.get(e.lladdr ?? '');
    if (!p || p.ip !== e.dst) await quiet(run('ip', ['neigh', 'del', e.dst, 'dev', dev]));
  }
  const haveFdb = new Set(fdb.map((e) => `${e.mac} ${e.dst}`));
  const haveNeigh = new Set(neigh.map((e) => `${e.dst} ${e.lladdr}`));
  for (const [mac, p] of want) {
    if (!haveFdb.has(`${mac} ${p.vtep}`)) await run('bridge', ['fdb', 'replace', mac, 'dev', dev, 'dst', p.vtep, 'self', 'permanent']);
    if (!haveNeigh.has(`${p.ip} ${mac}`)) await run('ip', ['neigh', 'replace', p.ip, 'lladdr', mac, 'dev', dev, 'nud', 'permanent']);
  }
}

/** An entry gone already is as good as removed. */
async function quiet(p: Promise<unknown>): Promise<void> {
  await p.catch((e) => {
    if (!(e instanceof CommandError && /No such file|not found|Cannot find|No such device/i.test(e.stderr))) throw e;
  });
}
