// Value flags the container and service commands share: Go durations, integers, docker's --health-* set.
import { invalidArgument } from '../base/errors';
import { parseGoDuration } from '../base/duration';
import { bool, type FlagSpec, type Parsed, str } from './flags';
import { ramInBytes } from './resource-flags';

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

/** `--mount type=bind,source=/a,target=/b,readonly` → the API's Mount. */
export function parseMount(s: string) {
  const kv: Record<string, string> = {};
  for (const part of s.split(',')) {
    const [k, ...v] = part.split('=');
    kv[k.trim()] = v.length ? v.join('=') : 'true';
  }
  const type = kv.type ?? 'volume';
  const target = kv.target ?? kv.destination ?? kv.dst;
  if (!target) throw invalidArgument(`invalid argument "${s}" for "--mount" flag: target is required`);
  return {
    Type: type,
    Source: kv.source ?? kv.src,
    Target: target,
    ReadOnly: kv.readonly === 'true' || kv.ro === 'true' || kv.readonly === '1',
    ...(type === 'tmpfs' ? { TmpfsOptions: { SizeBytes: kv['tmpfs-size'] ? ramInBytes(kv['tmpfs-size'], '--mount') : undefined, Mode: kv['tmpfs-mode'] ? parseInt(kv['tmpfs-mode'], 8) : undefined } } : {}),
    ...(type === 'volume' ? { VolumeOptions: { NoCopy: kv['volume-nocopy'] === 'true' } } : {}),
  };
}
