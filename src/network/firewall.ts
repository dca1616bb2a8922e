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
 * Published ports are CNI's portmap plugin's (per container). Each rule
 * carries its daemon's mark in a comment (daemons share the chains), so a
 * daemon's check finds its own rules that outlived their bridge.
 */
export interface BridgeRules {
  bridge: string;
  subnet: string;
  internal: boolean;
  /** The daemon's mark. */
  owner: string;
}

export type Rule = { table: 'filter' | 'nat'; chain: string; args: string[] };

const ISOLATION = 'BERTH-ISOLATION';
const ISOLATION2 = 'BERTH-ISOLATION-2';
const FORWARD = 'BERTH-FORWARD';
const POSTROUTING = 'BERTH-POSTROUTING';
const CHAINS = [['filter', ISOLATION], ['filter', ISOLATION2], ['filter', FORWARD], ['nat', POSTROUTING]] as const;

/** The per-network rules (pure, for tests and for removal). */
export function networkRules(n: BridgeRules): Rule[] {
  const b = n.bridge;
  const mark = n.owner ? ['-m', 'comment', '--comment', n.owner] : [];
  // iptables prints matches in the order given and the target last: the mark goes just before -j.
  const marked = (args: string[]) => [...args.slice(0, -2), ...mark, ...args.slice(-2)];
  const f = (chain: string, ...args: string[]): Rule => ({ table: 'filter', chain, args: marked(args) });
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
    { table: 'nat', chain: POSTROUTING, args: marked(['-s', n.subnet, '!', '-o', b, '-j', 'MASQUERADE']) },
  ];
}

const ipt = (table: string, ...args: string[]) => run('iptables', ['-w', '-t', table, ...args]);
const present = (r: Rule) => ipt(r.table, '-C', r.chain, ...r.args).then(() => true, () => false);

/** The chains and the jumps to them; idempotent, safe with other daemons on the host. */
export async function ensureChains(): Promise<void> {
  for (const [table, chain] of CHAINS) {
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

/** Removes the network's rules, also those made without a mark (by daemons before marks). */
export async function removeNetworkRules(n: BridgeRules): Promise<void> {
  for (const r of [...networkRules(n), ...networkRules({ ...n, owner: '' })]) while (await present(r)) await ipt(r.table, '-D', r.chain, ...r.args);
}

/** The rules in Berth's chains that carry the owner's mark. */
export async function ownedRules(owner: string): Promise<Rule[]> {
  return (await berthRules()).filter((r) => r.args.includes(owner));
}

/** Every rule in Berth's chains, as `iptables -S` prints it (none when a chain is not there). */
async function berthRules(): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const [table, chain] of CHAINS) {
    const listed = await ipt(table, '-S', chain).catch((e) => {
      if (e instanceof CommandError && /No chain|does not exist/i.test(e.stderr)) return undefined;
      throw e;
    });
    out.push(...parseRules(table, chain, listed?.stdout ?? ''));
  }
  return out;
}

/** The rules of one chain in `iptables -S CHAIN`'s output (which quotes comments; Berth's have no spaces). */
export function parseRules(table: Rule['table'], chain: string, listing: string): Rule[] {
  const words = (l: string) => l.trim().split(/\s+/).map((w) => w.replace(/^"(.*)"$/, '$1'));
  return listing.split('\n').map(words).filter((w) => w[0] === '-A' && w[1] === chain).map((w) => ({ table, chain, args: w.slice(2) }));
}

/** The interfaces a rule matches on (-i, -o). */
export function ruleInterfaces(r: Rule): string[] {
  return [...new Set(r.args.flatMap((a, i) => (a === '-i' || a === '-o' ? [r.args[i + 1]] : [])))];
}

export function describeRule(r: Rule): string {
  return `${r.table === 'nat' ? '-t nat ' : ''}-A ${r.chain} ${r.args.join(' ')}`;
}

/** Removes the rule if it is there (a check's repair may come after someone else's). */
export async function removeRule(r: Rule): Promise<void> {
  if (await present(r)) await ipt(r.table, '-D', r.chain, ...r.args);
}
