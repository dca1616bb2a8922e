import { type Bandwidth, formatRate, MAX_PRIORITY } from '../base/rates';

export type { Bandwidth };

/** Why a guarantee cannot be added to those the link already gives (undefined: it can). */
export function admissionError(capacity: number, granted: number[], asked: number, device: string): string | undefined {
  if (asked > capacity) return `a guarantee of ${formatRate(asked)} is above the capacity of the shared link ${device} (${formatRate(capacity)})`;
  const used = granted.reduce((a, b) => a + b, 0);
  if (used + asked > capacity) {
    return `a guarantee of ${formatRate(asked)} does not fit on the shared link ${device}: ${formatRate(used)} of its ${formatRate(capacity)} are guaranteed to running containers, ${formatRate(capacity - used)} are free`;
  }
  return undefined;
}

/** One HTB class, rates in bits per second, sizes in bytes. */
export interface HtbClass {
  minor: number;
  rate: number;
  ceil: number;
  /** HTB's prio: 0 borrows first. */
  prio: number;
  quantum: number;
  burst: number;
  cburst: number;
}

export interface LinkPlan {
  root: HtbClass;
  /** Traffic no rule classifies: the host's, and containers without a share. */
  fallback: HtbClass;
  classes: HtbClass[];
}

export const ROOT_MINOR = 1;
export const DEFAULT_MINOR = 0xffff;
/** The least a class is guaranteed (HTB needs a rate): a container without a guarantee, the host when containers hold it all. */
const FLOOR_RATE = 8_000;
/**
 * Bytes a class may send per turn when it borrows: at least the largest
 * packet the stack hands over (64 KiB with GSO), else a small class's
 * big packets outweigh its share. Weights beyond 256:1 are cut there.
 */
const BASE_QUANTUM = 64 * 1024;
const MAX_QUANTUM = BASE_QUANTUM * 256;

/**
 * The classes of a shared link (pure): each member gets its guarantee as
 * HTB's rate and its limit as ceil; borrowing goes by priority, and within
 * one priority by quanta in proportion to the guarantees (a container
 * without one weighs as 1% of the link). Bursts of at least 64 KiB (or
 * 1 ms at the rate) keep GSO-sized packets from starving the token buckets.
 */
export function planLink(capacity: number, members: { minor: number; bw: Bandwidth }[]): LinkPlan {
  const guaranteed = members.reduce((a, m) => a + m.bw.guarantee, 0);
  const weight = (g: number) => Math.max(g, capacity / 100);
  const fallbackRate = Math.max(capacity - guaranteed, FLOOR_RATE);
  const weights = [...members.map((m) => weight(m.bw.guarantee)), weight(fallbackRate)];
  const least = Math.min(...weights);
  const quantum = (w: number) => Math.min(Math.round((BASE_QUANTUM * w) / least), MAX_QUANTUM);
  const burst = (rate: number) => Math.max(BASE_QUANTUM, Math.ceil(rate / 8 / 1000));
  const cls = (minor: number, rate: number, ceil: number, prio: number, w: number): HtbClass => ({ minor, rate, ceil, prio, quantum: quantum(w), burst: burst(rate), cburst: burst(ceil) });
  return {
    root: { minor: ROOT_MINOR, rate: capacity, ceil: capacity, prio: 0, quantum: BASE_QUANTUM, burst: burst(capacity), cburst: burst(capacity) },
    fallback: cls(DEFAULT_MINOR, fallbackRate, capacity, MAX_PRIORITY, weight(fallbackRate)),
    classes: members.map((m) => {
      const ceil = m.bw.limit ? Math.min(m.bw.limit, capacity) : capacity;
      return cls(m.minor, Math.max(Math.min(m.bw.guarantee, ceil), FLOOR_RATE), ceil, MAX_PRIORITY - m.bw.priority, weight(m.bw.guarantee));
    }),
  };
}

/**
 * What the plan gives each busy class (pure, a fluid model of a flat HTB
 * tree): first its rate, up to its demand; then what the link has left,
 * priority by priority (HTB prio 0 first), shared within one priority in
 * proportion to the quanta, each up to its ceil and demand. Demands are in
 * bits per second; Infinity for a sender that takes all it gets.
 */
export function fairShares(capacity: number, busy: { cls: HtbClass; demand: number }[]): number[] {
  const got = busy.map((b) => Math.min(b.cls.rate, b.cls.ceil, b.demand));
  let left = capacity - got.reduce((a, b) => a + b, 0);
  const prios = [...new Set(busy.map((b) => b.cls.prio))].sort((a, b) => a - b);
  for (const prio of prios) {
    let open = busy.map((b, i) => i).filter((i) => busy[i].cls.prio === prio);
    // Water-filling: share by quanta; a class that reaches its cap drops out and the rest share again.
    while (left > 1e-6 && open.length) {
      const room = (i: number) => Math.min(busy[i].cls.ceil, busy[i].demand) - got[i];
      open = open.filter((i) => room(i) > 1e-6);
      const total = open.reduce((a, i) => a + busy[i].cls.quantum, 0);
      if (!open.length) break;
      const step = Math.min(left, ...open.map((i) => (room(i) * total) / busy[i].cls.quantum));
      for (const i of open) got[i] += (step * busy[i].cls.quantum) / total;
      left -= step;
    }
  }
  return got;
}
