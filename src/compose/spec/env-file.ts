import { invalidArgument } from '../../base/errors';
import { type Env, interpolateString } from './interpolate';

/**
 * A dotenv file as compose reads `.env`, `--env-file` and `env_file:`:
 * `KEY=VALUE` lines, `export ` before a key allowed, `#` comments (inline
 * after a space when unquoted); 'single quotes' literal, "double quotes" with
 * \n \t \\ \" escapes; unquoted and double-quoted values interpolated from
 * the lines above and then `lookup`. A bare `KEY` takes lookup's value
 * (and is left out when it has none).
 */
export function parseEnvFile(text: string, file: string, lookup: Env = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const scope = (): Env => ({ ...lookup, ...out });
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=\s*([\s\S]*))?$/.exec(line);
    if (!m) throw invalidArgument(`${file}:${n + 1}: unexpected character in variable name: ${JSON.stringify(line)}`);
    const [, key, assign] = m;
    let raw = m[3] ?? '';
    if (!assign) {
      if (lookup[key] !== undefined) out[key] = lookup[key]!;
      continue;
    }
    const q = raw[0];
    if (q === "'" || q === '"') {
      // A quoted value may run over several lines.
      let end = closingQuote(raw, q);
      while (end < 0 && n + 1 < lines.length) {
        raw += '\n' + lines[++n];
        end = closingQuote(raw, q);
      }
      if (end < 0) throw invalidArgument(`${file}:${n + 1}: unterminated quoted value for ${key}`);
      const inner = raw.slice(1, end);
      out[key] = q === "'" ? inner : interpolateString(unescape(inner), scope(), `${key} in ${file}`);
    } else {
      const hash = raw.search(/\s#/);
      const value = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
      out[key] = interpolateString(value, scope(), `${key} in ${file}`);
    }
  }
  return out;
}

function closingQuote(s: string, q: string): number {
  for (let i = 1; i < s.length; i++) {
    if (q === '"' && s[i] === '\\') i++;
    else if (s[i] === q) return i;
  }
  return -1;
}

function unescape(s: string): string {
  return s.replace(/\\([nrt"\\$])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? (c === '$' ? '$$' : c));
}
