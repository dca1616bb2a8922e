import { invalidArgument } from './errors';

/** A rate as tc and docker's rate flags take it: `10mbit` (bits/s), `2mbps` (bytes/s), `500kbit`, `1gbit`; in bits per second. */
export function parseRate(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(bit|bps)$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid argument "${s}" for ${what}: a rate such as 10mbit (bits/s) or 2mbps (bytes/s)`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult * (m[3].toLowerCase() === 'bps' ? 8 : 1));
}

/**
 * A container's share of the shared link, in bits per second: what it is
 * guaranteed when busy, what it may never pass (0: the link's capacity),
 * and its priority (0-7, higher first) when it borrows what others leave.
 */
export interface Bandwidth {
  guarantee: number;
  limit: number;
  priority: number;
}

export const MAX_PRIORITY = 7;

/** `guarantee=100mbit,limit=1gbit,priority=1` (any of the three, in any order). */
export function parseBandwidth(spec: string): Bandwidth {
  const out: Bandwidth = { guarantee: 0, limit: 0, priority: 0 };
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 0 || !value) throw invalidArgument(`invalid --network-bandwidth "${spec}": each part is key=value (guarantee=100mbit,limit=1gbit,priority=1)`);
    if (seen.has(key)) throw invalidArgument(`invalid --network-bandwidth "${spec}": ${key} is given twice`);
    seen.add(key);
    if (key === 'guarantee' || key === 'limit') out[key] = parseRate(value, `${key} in --network-bandwidth`);
    else if (key === 'priority') {
      if (!/^\d+$/.test(value) || Number(value) > MAX_PRIORITY) throw invalidArgument(`invalid priority "${value}" in --network-bandwidth: a whole number from 0 to ${MAX_PRIORITY} (higher borrows first)`);
      out.priority = Number(value);
    } else throw invalidArgument(`invalid --network-bandwidth "${spec}": unknown key "${key}" (guarantee, limit, priority)`);
  }
  checkBandwidth(out);
  return out;
}

/** The shape rules of one value, wherever it came from (a flag, an API body). */
export function checkBandwidth(b: Bandwidth): void {
  for (const k of ['guarantee', 'limit', 'priority'] as const) {
    if (!Number.isSafeInteger(b[k]) || b[k] < 0) throw invalidArgument(`invalid network bandwidth: ${k} must be a whole number, not negative (got ${b[k]})`);
  }
  if (b.priority > MAX_PRIORITY) throw invalidArgument(`invalid network bandwidth: priority must be from 0 to ${MAX_PRIORITY} (got ${b.priority})`);
  if (b.limit && b.limit < b.guarantee) throw invalidArgument(`invalid network bandwidth: the limit (${formatRate(b.limit)}) is below the guarantee (${formatRate(b.guarantee)})`);
}

/** A rate as tc prints it: 100Mbit, 1.5Gbit, 800Kbit. */
export function formatRate(bps: number): string {
  for (const [unit, n] of [['Gbit', 1e9], ['Mbit', 1e6], ['Kbit', 1e3]] as const) if (bps >= n) return `${+(bps / n).toFixed(2)}${unit}`;
  return `${bps}bit`;
}

