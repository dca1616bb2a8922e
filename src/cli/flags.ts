import { invalidArgument } from '../base/errors';

export type FlagKind = 'bool' | 'string' | 'list';

export interface FlagSpec {
  /** Long name without dashes, and optional one-letter short name. */
  name: string;
  short?: string;
  kind: FlagKind;
  default?: string | boolean;
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  args: string[];
}

/**
 * Docker-style flags: `-it` (combined booleans), `-e A=1 -e B=2` (lists),
 * `--name=x` or `--name x`, `--` ends flags. With `stopAtFirstArg` (run,
 * exec, create), everything after the first positional belongs to the
 * container's command.
 */
export function parseFlags(argv: string[], specs: FlagSpec[], o: { stopAtFirstArg?: boolean; command?: string } = {}): Parsed {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Parsed['flags'] = {};
  for (const s of specs) flags[s.name] = s.kind === 'list' ? [] : s.default;
  const args: string[] = [];
  const unknown = (f: string) => invalidArgument(`unknown flag: ${f}\nSee 'berth ${o.command ?? ''} --help'.`);
  const set = (s: FlagSpec, v: string | boolean) => {
    if (s.kind === 'list') (flags[s.name] as string[]).push(String(v));
    else flags[s.name] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const s = byLong.get(name);
      if (!s) throw unknown(a);
      if (s.kind === 'bool') set(s, eq > 0 ? a.slice(eq + 1) !== 'false' : true);
      else {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw invalidArgument(`flag needs an argument: --${name}`);
        set(s, v);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const s = byShort.get(a[j]);
        if (!s) throw unknown(`-${a[j]}`);
        if (s.kind === 'bool') {
          set(s, true);
          continue;
        }
        const rest = a.slice(j + 1).replace(/^=/, '');
        const v = rest !== '' ? rest : argv[++i];
        if (v === undefined) throw invalidArgument(`flag needs an argument: -${a[j]}`);
        set(s, v);
        break;
      }
      continue;
    }
    if (o.stopAtFirstArg) {
      args.push(...argv.slice(i));
      break;
    }
    args.push(a);
  }
  return { flags, args };
}

export const str = (p: Parsed, n: string) => p.flags[n] as string | undefined;
export const bool = (p: Parsed, n: string) => p.flags[n] === true;
export const list = (p: Parsed, n: string) => (p.flags[n] as string[]) ?? [];
