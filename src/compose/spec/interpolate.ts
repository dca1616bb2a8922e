import { invalidArgument } from '../../base/errors';

export type Env = Record<string, string | undefined>;

/** Where a value sits in a file, for errors: `services.web.ports[0]`. */
export type Path = (string | number)[];

export const pathText = (p: Path) => p.map((x, i) => (typeof x === 'number' ? `[${x}]` : i ? `.${x}` : x)).join('');

/**
 * Compose's interpolation of one string: `$VAR`, `${VAR}`, `${VAR:-default}`
 * (unset or empty), `${VAR-default}` (unset), `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+alt}`, `${VAR+alt}`, `$$` for a literal `$`. Defaults and
 * alternatives are interpolated themselves, so they nest.
 */
export function interpolateString(s: string, env: Env, where = ''): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(s, i + 2);
      if (end < 0) throw invalidArgument(`invalid interpolation format for ${where}: "${s}"; you may need to escape any $ with another $`);
      out += substitute(s.slice(i + 2, end), env, where, s);
      i = end + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
      if (!m) {
        out += '$';
        i++;
        continue;
      }
      out += env[m[0]] ?? '';
      i += 1 + m[0].length;
    }
  }
  return out;
}

/** The index of the `}` that closes a `${` whose body starts at `from`, with nested `${...}`. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let j = from; j < s.length; j++) {
    if (s[j] === '$' && s[j + 1] === '{') {
      depth++;
      j++;
    } else if (s[j] === '}' && --depth === 0) return j;
  }
  return -1;
}

function substitute(body: string, env: Env, where: string, whole: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw invalidArgument(`invalid interpolation format for ${where}: "${whole}"; you may need to escape any $ with another $`);
  const [, name, op, arg = ''] = m;
  const v = env[name];
  const set = v !== undefined;
  const nonEmpty = set && v !== '';
  switch (op) {
    case undefined:
      return v ?? '';
    case ':-':
      return nonEmpty ? v : interpolateString(arg, env, where);
    case '-':
      return set ? v : interpolateString(arg, env, where);
    case ':+':
      return nonEmpty ? interpolateString(arg, env, where) : '';
    case '+':
      return set ? interpolateString(arg, env, where) : '';
    default: {
      // `:?` fails when unset or empty, `?` only when unset.
      if (op === ':?' ? nonEmpty : set) return v!;
      const msg = interpolateString(arg, env, where);
      throw invalidArgument(`required variable ${name} is missing a value${msg ? `: ${msg}` : ''} (in ${where})`);
    }
  }
}

/**
 * Interpolates every string of a parsed file (values, not keys, as compose
 * does), returning a new tree; `where` names the file for errors. The
 * `x-` extension fields are interpolated too: anchors make them templates.
 */
export function interpolateTree(v: unknown, env: Env, file: string, path: Path = []): unknown {
  if (typeof v === 'string') {
    const out = interpolateString(v, env, `${pathText(path) || 'the top'} in ${file}`);
    return out !== v ? castAt(path, out) : out;
  }
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(x, env, file, [...path, i]));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateTree(x, env, file, [...path, k])]));
  }
  return v;
}

/** Where the spec wants a whole number, a number or a boolean (compose casts interpolated values there; the schema checks the rest). */
const TYPED: [RegExp, 'int' | 'number' | 'bool'][] = [
  [/^services\.[^.]+\.(scale|cpu_shares|pids_limit|oom_score_adj|mem_swappiness|healthcheck\.retries|ports\.\d+\.target|deploy\.(replicas|placement\.max_replicas_per_node|restart_policy\.max_attempts|(update|rollback)_config\.parallelism|resources\.limits\.pids))$/, 'int'],
  [/^services\.[^.]+\.deploy\.(update|rollback)_config\.max_failure_ratio$/, 'number'],
  [/^services\.[^.]+\.(read_only|privileged|tty|stdin_open|init|oom_kill_disable|healthcheck\.disable)$/, 'bool'],
  [/^(networks|volumes|secrets|configs)\.[^.]+\.external$|^networks\.[^.]+\.(internal|attachable|enable_ipv6)$/, 'bool'],
];

/** An interpolated value where the spec wants a number or a boolean, as that type (`replicas: ${N:-2}`); anything else as it is. */
function castAt(path: Path, v: string): unknown {
  const at = path.join('.');
  const kind = TYPED.find(([re]) => re.test(at))?.[1];
  if (kind === 'int' && /^-?\d+$/.test(v)) return Number(v);
  if (kind === 'number' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (kind === 'bool' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return v;
}
