import { constants } from 'node:os';
import { invalidArgument } from '../../base/errors';

/** `SIGTERM`, `TERM`, `term` or `15` → signal number; throws docker's message for anything else. */
export function parseSignal(s: string | number | undefined, fallback = 15): number {
  if (s === undefined || s === '') return fallback;
  if (typeof s === 'number' || /^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw invalidArgument(`Invalid signal: ${s}`);
    return n;
  }
  const up = s.toUpperCase();
  const name = (up.startsWith('SIG') ? up : `SIG${up}`) as keyof typeof constants.signals;
  const n = constants.signals[name];
  if (n === undefined) throw invalidArgument(`Invalid signal: ${s}`);
  return n;
}
