import * as fs from 'node:fs';
import { CommandError, run } from '../base/exec';
import { DEFAULT_MINOR, type HtbClass, type LinkPlan } from './bandwidth';

/** The HTB qdisc's major number on a shared link. */
export const MAJOR = 1;

export const classId = (minor: number) => `${MAJOR}:${minor.toString(16)}`;
/** A class id as iptables prints CLASSIFY's --set-class. */
export const printedClassId = (minor: number) => `${MAJOR.toString(16).padStart(4, '0')}:${minor.toString(16).padStart(4, '0')}`;

const tc = (...args: string[]) => run('tc', args);

function classArgs(c: HtbClass, parent: string): string[] {
  return ['parent', parent, 'classid', classId(c.minor), 'htb', 'rate', `${c.rate}bit`, 'ceil', `${c.ceil}bit`, 'prio', String(c.prio), 'quantum', String(c.quantum), 'burst', String(c.burst), 'cburst', String(c.cburst)];
}

/** The minors of the HTB classes on the device now (none: no HTB of ours there). */
export async function linkClasses(device: string): Promise<number[]> {
  const out = (await tc('class', 'show', 'dev', device)).stdout;
  return [...out.matchAll(new RegExp(`^class htb ${MAJOR}:([0-9a-f]+) `, 'gm'))].map((m) => parseInt(m[1], 16));
}

async function hasOurRoot(device: string): Promise<boolean> {
  const out = (await tc('qdisc', 'show', 'dev', device, 'root')).stdout;
  return new RegExp(`^qdisc htb ${MAJOR}: root`, 'm').test(out);
}

/**
 * Makes the device's classes the plan's: the HTB root (unclassified
 * traffic to the fallback class), each class made or changed in place
 * (`replace` keeps its queue, so a change drops nothing), and classes no
 * longer planned deleted. Each leaf gets a pfifo of 1000 packets: a link
 * with no queue length (some virtual devices) would otherwise drop at once.
 */
export async function applyLink(device: string, plan: LinkPlan): Promise<void> {
  if (!(await hasOurRoot(device))) await tc('qdisc', 'replace', 'dev', device, 'root', 'handle', `${MAJOR}:`, 'htb', 'default', DEFAULT_MINOR.toString(16));
  await tc('class', 'replace', 'dev', device, ...classArgs(plan.root, `${MAJOR}:`));
  const root = classId(plan.root.minor);
  const have = new Set(await linkClasses(device));
  for (const c of [plan.fallback, ...plan.classes]) {
    await tc('class', 'replace', 'dev', device, ...classArgs(c, root));
    if (!have.has(c.minor)) await tc('qdisc', 'replace', 'dev', device, 'parent', classId(c.minor), 'handle', `${c.minor.toString(16)}:`, 'pfifo', 'limit', '1000');
  }
  const planned = new Set([plan.root.minor, plan.fallback.minor, ...plan.classes.map((c) => c.minor)]);
  for (const minor of have) if (!planned.has(minor)) await tc('class', 'del', 'dev', device, 'classid', classId(minor));
}

/** Takes the HTB off the device (the kernel's default queue comes back); nothing there is no failure. */
export async function removeLink(device: string): Promise<void> {
  if (!(await hasOurRoot(device).catch(() => false))) return;
  await tc('qdisc', 'del', 'dev', device, 'root').catch((e) => {
    if (!(e instanceof CommandError && /Cannot find device|Invalid handle|handle of zero/i.test(e.stderr))) throw e;
  });
}


/** The device of the host's default IPv4 route, if it has one. */
export async function defaultRouteDevice(): Promise<string | undefined> {
  const out = await run('ip', ['-4', 'route', 'show', 'default']).then((r) => r.stdout, () => '');
  return /\bdev (\S+)/.exec(out)?.[1];
}

/** The speed a device reports, in bits per second (virtual devices mostly report none). */
export function linkSpeed(device: string): number | undefined {
  let mbit = -1;
  try {
    mbit = Number(fs.readFileSync(`/sys/class/net/${device}/speed`, 'utf8').trim());
  } catch {
    // No such device, or a device that cannot say (EINVAL): no speed known.
  }
  return mbit > 0 ? mbit * 1e6 : undefined;
}
