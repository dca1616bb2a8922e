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
 * A dual-stack network has the same rules in ip6tables, so IPv6 is as
 * isolated as IPv4 where the host forwards it.
 * Published ports are CNI's portmap plugin's (per container). Each rule
 * carries its daemon's mark in a comment (daemons share the chains), so a
 * daemon's check finds its own rules that outlived their bridge.
 */
export interface BridgeRules {
  bridge: string;
  subnet: string;
  /** A dual-stack network's IPv6 subnet. */
  subnet6?: string;
  internal: boolean;
  /** The daemon's mark. */
  owner: string;
}

export type Family = 4 | 6;
export type Rule = { table: 'filter' | 'nat' | 'mangle'; chain: string; args: string[]; family?: Family };

const ISOLATION = 'BERTH-ISOLATION';
const ISOLATION2 = 'BERTH-ISOLATION-2';
const FORWARD = 'BERTH-FORWARD';
const POSTROUTING = 'BERTH-POSTROUTING';
/** mangle: the classes of containers' traffic on a shared link (made only when a container has a share). */
const SHAPE = 'BERTH-SHAPE';
const CHAINS = [['filter', ISOLATION], ['filter', ISOLATION2], ['filter', FORWARD], ['nat', POSTROUTING], ['mangle', SHAPE]] as const;

/** The per-network rules (pure, for tests and for removal): IPv4's, and IPv6's for a dual-stack network. */
export function networkRules(n: BridgeRules): Rule[] {
  const v4 = familyRules(n, n.subnet, 4);
  return n.subnet6 ? [...v4, ...familyRules(n, n.subnet6, 6)] : v4;
}

function familyRules(n: BridgeRules, subnet: string, family: Family): Rule[] {
  const b = n.bridge;
  const v6 = family === 6 ? { family } : {};
  const mark = n.owner ? ['-m', 'comment', '--comment', n.owner] : [];
  // iptables prints matches in the order given and the target last: the mark goes just before -j.
  const marked = (args: string[]) => [...args.slice(0, -2), ...mark, ...args.slice(-2)];
  const f = (chain: string, ...args: string[]): Rule => ({ table: 'filter', chain, args: marked(args), ...v6 });
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
    { table: 'nat', chain: POSTROUTING, args: marked(['-s', subnet, '!', '-o', b, '-j', 'MASQUERADE']), ...v6 },
  ];
}

const ipt = (family: Family | undefined, table: string, ...args: string[]) => run(family === 6 ? 'ip6tables' : 'iptables', ['-w', '-t', table, ...args]);
const present = (r: Rule) => ipt(r.family, r.table, '-C', r.chain, ...r.args).then(() => true, () => false);

/** The chains and the jumps to them; idempotent, safe with other daemons on the host. */
export async function ensureChains(family: Family = 4): Promise<void> {
  for (const [table, chain] of CHAINS) if (table !== 'mangle') await newChain(family, table, chain);
  const dnat: Rule = { table: 'filter', chain: ISOLATION, args: ['-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'RETURN'], family };
  if (!(await present(dnat))) await ipt(family, 'filter', '-I', ISOLATION, '1', ...dnat.args);
  // Isolation must come before any accept: both go first in FORWARD, isolation at the top.
  for (const chain of [FORWARD, ISOLATION]) {
    if (!(await present({ table: 'filter', chain: 'FORWARD', args: ['-j', chain], family }))) await ipt(family, 'filter', '-I', 'FORWARD', '1', '-j', chain);
  }
  if (!(await present({ table: 'nat', chain: 'POSTROUTING', args: ['-j', POSTROUTING], family }))) await ipt(family, 'nat', '-A', 'POSTROUTING', '-j', POSTROUTING);
}

async function newChain(family: Family, table: string, chain: string): Promise<void> {
  await ipt(family, table, '-N', chain).catch((e) => {
    if (!(e instanceof CommandError && /exists/i.test(e.stderr))) throw e;
  });
}

/**
 * The rules that put a container's traffic leaving by the shared link into
 * its HTB class (CLASSIFY sets the priority HTB reads as a class id). They
 * match in mangle's POSTROUTING, before masquerade hides the container's
 * address (a tc filter on the link would see the host's). Written as
 * iptables prints them, so the firewall watch can compare.
 */
export function shapeRules(s: { device: string; classId: string; ip?: string; ip6?: string; owner: string }): Rule[] {
  const out: Rule[] = [];
  const rule = (source: string, family?: Family): Rule => ({
    table: 'mangle', chain: SHAPE, args: ['-s', source, '-o', s.device, '-m', 'comment', '--comment', s.owner, '-j', 'CLASSIFY', '--set-class', s.classId], ...(family ? { family } : {}),
  });
  if (s.ip) out.push(rule(`${s.ip}/32`));
  if (s.ip6) out.push(rule(`${s.ip6}/128`, 6));
  return out;
}

/** The jump to the shaping chain, per family. */
export function shapeBaseRule(family: Family): Rule {
  return { table: 'mangle', chain: 'POSTROUTING', args: ['-j', SHAPE], ...(family === 6 ? { family } : {}) };
}

/** Adds the rules (and their chain) that are missing. */
export async function addShapeRules(rules: Rule[]): Promise<void> {
  for (const family of new Set(rules.map((r) => r.family ?? 4))) {
    await newChain(family, 'mangle', SHAPE);
    const jump = shapeBaseRule(family);
    if (!(await present(jump))) await ipt(family, 'mangle', '-A', 'POSTROUTING', ...jump.args);
  }
  for (const r of rules) if (!(await present(r))) await ipt(r.family, r.table, '-A', r.chain, ...r.args);
}

/** Adds the network's rules that are missing (so a restart never duplicates one). */
export async function addNetworkRules(n: BridgeRules): Promise<void> {
  await ensureChains(4);
  if (n.subnet6) await ensureChains(6);
  for (const r of networkRules(n)) if (!(await present(r))) await ipt(r.family, r.table, '-A', r.chain, ...r.args);
}

/** Removes the network's rules, also those made without a mark (by daemons before marks). */
export async function removeNetworkRules(n: BridgeRules): Promise<void> {
  for (const r of [...networkRules(n), ...networkRules({ ...n, owner: '' })]) while (await present(r)) await ipt(r.family, r.table, '-D', r.chain, ...r.args);
}

/** The rules in Berth's chains that carry the owner's mark. */
export async function ownedRules(owner: string): Promise<Rule[]> {
  return (await berthRules()).filter((r) => r.args.includes(owner));
}

/**
 * Every rule in Berth's chains, from `iptables -S` and `ip6tables -S` of
 * each table: listing a whole table works where a chain is not there (some
 * iptables-nft builds call a missing chain "incompatible"), and a host
 * without ip6tables has no IPv6 rules.
 */
async function berthRules(): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const family of [4, 6] as const) {
    for (const table of ['filter', 'nat', 'mangle'] as const) {
      const listed = await ipt(family, table, '-S').catch((e) => {
        if (family === 6) return undefined;
        throw e;
      });
      for (const [t, chain] of CHAINS) if (t === table) out.push(...parseRules(table, chain, listed?.stdout ?? '').map((r) => (family === 6 ? { ...r, family } : r)));
    }
  }
  return out;
}

/** The rules of one chain in `iptables -S [CHAIN]`'s output (which quotes comments; Berth's have no spaces). */
export function parseRules(table: Rule['table'], chain: string, listing: string): Rule[] {
  const words = (l: string) => l.trim().split(/\s+/).map((w) => w.replace(/^"(.*)"$/, '$1'));
  return listing.split('\n').map(words).filter((w) => w[0] === '-A' && w[1] === chain).map((w) => ({ table, chain, args: w.slice(2) }));
}

/** The interfaces a rule matches on (-i, -o). */
export function ruleInterfaces(r: Rule): string[] {
  return [...new Set(r.args.flatMap((a, i) => (a === '-i' || a === '-o' ? [r.args[i + 1]] : [])))];
}

export function describeRule(r: Rule): string {
  return `${r.family === 6 ? 'ip6tables ' : ''}${r.table === 'filter' ? '' : `-t ${r.table} `}-A ${r.chain} ${r.args.join(' ')}`;
}

/** Removes the rule if it is there (a check's repair may come after someone else's). */
export async function removeRule(r: Rule): Promise<void> {
  if (await present(r)) await ipt(r.family, r.table, '-D', r.chain, ...r.args);
}

/** The jumps into Berth's chains that ensureChains makes, per family. */
export function baseRules(family: Family): Rule[] {
  const v6 = family === 6 ? { family } : {};
  return [
    { table: 'filter', chain: ISOLATION, args: ['-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'RETURN'], ...v6 },
    { table: 'filter', chain: 'FORWARD', args: ['-j', ISOLATION], ...v6 },
    { table: 'filter', chain: 'FORWARD', args: ['-j', FORWARD], ...v6 },
    { table: 'nat', chain: 'POSTROUTING', args: ['-j', POSTROUTING], ...v6 },
  ];
}

/** `iptables-save` output as a set of `table -A CHAIN args` lines, quotes taken off (as parseRules reads them). */
export function savedRules(save: string): Set<string> {
  const out = new Set<string>();
  let table = 'filter';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith('-A ')) out.add(`${table} ${line.trim().split(/\s+/).map((w) => w.replace(/^"(.*)"$/, '$1')).join(' ')}`);
  }
  return out;
}

/** The rules of `want` that a saved ruleset lacks (pure). */
export function missingRules(saved: Set<string>, want: Rule[]): Rule[] {
  return want.filter((r) => !saved.has(`${r.table} -A ${r.chain} ${r.args.join(' ')}`));
}

/** The host's rules now, of one family; undefined where they cannot be read (no such tool): nothing can be repaired then. */
export async function saveRules(family: Family): Promise<Set<string> | undefined> {
  // Not installed, or not usable here: the caller repairs nothing (it cannot know what is there).
  const r = await run(family === 6 ? 'ip6tables-save' : 'iptables-save', []).catch(() => undefined);
  return r && savedRules(r.stdout);
}