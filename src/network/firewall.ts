import { CommandError, run } from '../base/exec';

/**
 * The iptables rules of bridge networks, per network (docker's model; CNI
 * has no isolation between networks and masquerades per container):
 *  - BERTH-ISOLATION (first in FORWARD): traffic leaving a network's bridge
 *    for another Berth bridge is dropped (via BERTH-ISOLATION-2, which drops
 *    by destination bridge); an internal network drops everything in and
 *    out. Traffic to published ports (DNAT) passes: publishing is public.
 *  - BERTH-FORWARD: accepts what a network may send and receive, so that a
 *    FORWARD policy of DROP (dockerd sets one) does not cut containers off.
 *  - nat BERTH-POSTROUTING: one MASQUERADE per network for traffic leaving it.
 * Published ports are CNI's portmap plugin's (per container).
 */
export interface BridgeRules {
  bridge: string;
  subnet: string;
  internal: boolean;
}

type Rule = { table: 'filter' | 'nat'; chain: string; args: string[] };

const ISOLATION = 'BERTH-ISOLATION';
const ISOLATION2 = 'BERTH-ISOLATION-2';
const FORWARD = 'BERTH-FORWARD';
const POSTROUTING = 'BERTH-POSTROUTING';

/** The per-network rules (pure, for tests and for removal). */
export function networkRules(n: BridgeRules): Rule[] {
  const b = n.bridge;
  const f = (chain: string, ...args: string[]): Rule => ({ table: 'filter', chain, args });
  if (n.internal) {
    return [
      f(ISOLATION, '-i', b, '!', '-o', b, '-j', 'DROP'),
      f(ISOLATION, '-o', b, '!', '-i', b, '-j', 'DROP'),
      f(FORWARD, '-i', b, '-o', b, '-j', 'ACCEPT'),
    ];
  }
  return [
    f(ISOLATION, '-i', b, '!', '-o', b, '-j', ISOLATION2),
    f(ISOLATION2, '-o', b, '-j', 'DROP'),
    f(FORWARD, '-o', b, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
    f(FORWARD, '-o', b, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'),
    f(FORWARD, '-i', b, '-j', 'ACCEPT'),
    { table: 'nat', chain: POSTROUTING, args: ['-s', n.subnet, '!', '-o', b, '-j', 'MASQUERADE'] },
  ];
}

const ipt = (table: string, ...args: string[]) => run('iptables', ['-w', '-t', table, ...args]);
const present = (r: Rule) => ipt(r.table, '-C', r.chain, ...r.args).then(() => true, () => false);

/** The chains and the jumps to them; idempotent, safe with other daemons on the host. */
export async function ensureChains(): Promise<void> {
  for (const [table, chain] of [['filter', ISOLATION], ['filter', ISOLATION2], ['filter', FORWARD], ['nat', POSTROUTING]]) {
    await ipt(table, '-N', chain).catch((e) => {
      if (!(e instanceof CommandError && /exists/i.test(e.stderr))) throw e;
    });
  }
  const dnat: Rule = { table: 'filter', chain: ISOLATION, args: ['-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'RETURN'] };
  if (!(await present(dnat))) await ipt('filter', '-I', ISOLATION, '1', ...dnat.args);
  // Isolation must come before any accept: both go first in FORWARD, isolation at the top.
  for (const chain of [FORWARD, ISOLATION]) {
    if (!(await present({ table: 'filter', chain: 'FORWARD', args: ['-j', chain] }))) await ipt('filter', '-I', 'FORWARD', '1', '-j', chain);
  }
  if (!(await present({ table: 'nat', chain: 'POSTROUTING', args: ['-j', POSTROUTING] }))) await ipt('nat', '-A', 'POSTROUTING', '-j', POSTROUTING);
}

/** Adds the network's rules that are missing (so a restart never duplicates one). */
export async function addNetworkRules(n: BridgeRules): Promise<void> {
  await ensureChains();
  for (const r of networkRules(n)) if (!(await present(r))) await ipt(r.table, '-A', r.chain, ...r.args);
}

export async function removeNetworkRules(n: BridgeRules): Promise<void> {
  for (const r of networkRules(n)) while (await present(r)) await ipt(r.table, '-D', r.chain, ...r.args);
}
