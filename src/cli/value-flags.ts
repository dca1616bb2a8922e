// Value flags the container and service commands share: Go durations, integers, docker's --health-* set.
import { invalidArgument } from '../base/errors';
import { parseGoDuration } from '../base/duration';
import { bool, type FlagSpec, type Parsed, str } from './flags';

export const HEALTH_FLAGS: FlagSpec[] = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval']
  .map((name): FlagSpec => ({ name, kind: 'string' }))
  .concat([{ name: 'no-healthcheck', kind: 'bool' }]);

/** A duration flag as the docker CLI reads it (Go's syntax), in nanoseconds; negative ones refused. */
export function durationFlag(p: Parsed, n: string): number | undefined {
  const v = str(p, n);
  if (v === undefined) return undefined;
  const neg = v.startsWith('-');
  const ns = parseGoDuration(neg ? v.slice(1) : v);
  if (ns === undefined) throw invalidArgument(`invalid argument "${v}" for "--${n}" flag: time: invalid duration "${v}"`);
  if (neg && ns > 0) throw invalidArgument(`--${n} cannot be negative`);
  return ns;
}

/** docker's --health-* flags as Config.Healthcheck; --no-healthcheck as the NONE test. */
export function healthcheck(p: Parsed): Record<string, unknown> | undefined {
  const names = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'];
  const given = names.filter((n) => str(p, n) !== undefined);
  if (bool(p, 'no-healthcheck')) {
    if (given.length) throw invalidArgument('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given.length) return undefined;
  const cmd = str(p, 'health-cmd');
  return {
    Test: cmd ? ['CMD-SHELL', cmd] : undefined,
    Interval: durationFlag(p, 'health-interval'),
    Timeout: durationFlag(p, 'health-timeout'),
    StartPeriod: durationFlag(p, 'health-start-period'),
    StartInterval: durationFlag(p, 'health-start-interval'),
    Retries: intFlag(p, 'health-retries'),
  };
}

export function intFlag(p: Parsed, n: string): number | undefined {
  const v = str(p, n);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`invalid argument "${v}" for "--${n}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

