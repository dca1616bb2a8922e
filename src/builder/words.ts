import { invalidArgument } from '../base/errors';

/** Variables an instruction's words see: ENV over ARG, as docker's. */
export type Vars = ReadonlyMap<string, string>;

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPACE = /\s/;

/**
 * Docker's Dockerfile word rules (its shell lexer): single quotes are
 * literal, double quotes allow `$` expansion and escape only `"`, `$` and
 * the escape character, and outside quotes the escape character makes the
 * next character literal. `$NAME`, `${NAME}`, `${NAME:-word}`,
 * `${NAME:+word}` (and the forms without colon) expand; unset is empty.
 */
class Lexer {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly vars: Vars,
    private readonly esc: string,
    /** Here-document text: quotes are literal; the escape character escapes only `$` and itself. */
    private readonly heredoc = false,
  ) {}

  /** The words of the text, split on unquoted white space. */
  words(): string[] {
    const out: string[] = [];
    for (;;) {
      while (this.i < this.s.length && SPACE.test(this.s[this.i])) this.i++;
      if (this.i >= this.s.length) return out;
      out.push(this.word(true));
    }
  }

  /** One word: up to unquoted white space when `stopAtSpace`, else the whole text. */
  word(stopAtSpace: boolean, stop = ''): string {
    let out = '';
    while (this.i < this.s.length) {
      const ch = this.s[this.i];
      if (stop.includes(ch)) break;
      if (stopAtSpace && SPACE.test(ch)) break;
      this.i++;
      if (this.heredoc && ch === this.esc) out += ['$', this.esc].includes(this.s[this.i]) ? this.s[this.i++] : ch;
      else if (this.heredoc && ch !== '$') out += ch;
      else if (ch === this.esc) {
        if (this.i < this.s.length) out += this.s[this.i++];
      } else if (ch === "'") out += this.single();
      else if (ch === '"') out += this.double();
      else if (ch === '$') out += this.dollar();
      else out += ch;
    }
    return out;
  }

  private single(): string {
    const end = this.s.indexOf("'", this.i);
    if (end < 0) throw invalidArgument('unexpected end of statement while looking for matching single-quote');
    const out = this.s.slice(this.i, end);
    this.i = end + 1;
    return out;
  }

  private double(): string {
    let out = '';
    while (this.i < this.s.length) {
      const ch = this.s[this.i++];
      if (ch === '"') return out;
      if (ch === '$') out += this.dollar();
      else if (ch === this.esc && this.i < this.s.length && ['"', '$', this.esc].includes(this.s[this.i])) out += this.s[this.i++];
      else out += ch;
    }
    throw invalidArgument('unexpected end of statement while looking for matching double-quote');
  }

  private dollar(): string {
    const ch = this.s[this.i];
    if (ch === '{') {
      this.i++;
      const name = this.name();
      if (!name) throw invalidArgument(`bad substitution in ${this.s}`);
      if (this.s[this.i] === '}') {
        this.i++;
        return this.vars.get(name) ?? '';
      }
      if (this.i >= this.s.length) throw invalidArgument(`missing '}' in ${this.s}`);
      let op = this.s[this.i++];
      if (op === ':') op += this.s[this.i++] ?? '';
      if (![':-', ':+', '-', '+', ':?', '?'].includes(op)) throw invalidArgument(`unsupported modifier (${op}) in substitution: ${this.s}`);
      const word = this.word(false, '}');
      if (this.s[this.i] !== '}') throw invalidArgument(`missing '}' in ${this.s}`);
      this.i++;
      const value = this.vars.get(name);
      const set = op.startsWith(':') ? !!value : value !== undefined;
      if (op.endsWith('-')) return set ? value! : word;
      if (op.endsWith('+')) return set ? word : '';
      if (!set) throw invalidArgument(`${name}: ${word || 'is not allowed to be unset'}`);
      return value!;
    }
    if (ch === undefined || !NAME_START.test(ch)) return '$';
    return this.vars.get(this.name()) ?? '';
  }

  private name(): string {
    const start = this.i;
    while (this.i < this.s.length && NAME_CHAR.test(this.s[this.i])) this.i++;
    return this.s.slice(start, this.i);
  }
}

/** The text as words: quotes and escapes removed, variables expanded. */
export function expandWords(text: string, vars: Vars, escape = '\\'): string[] {
  return new Lexer(text, vars, escape).words();
}

/** The text as one word: quotes and escapes removed, variables expanded. */
export function expandWord(text: string, vars: Vars, escape = '\\'): string {
  return new Lexer(text, vars, escape).word(false);
}

/** A here-document's text with its variables expanded; quotes stay as written. */
export function expandHeredoc(text: string, vars: Vars, escape = '\\'): string {
  return new Lexer(text, vars, escape, true).word(false);
}

/**
 * Splits on white space outside quotes, keeping quotes and escapes, as
 * docker's parser splits `K=V` lists before each part is expanded.
 */
export function splitRaw(text: string, escape = '\\'): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (!quote && SPACE.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
    if (ch === escape && quote !== "'" && i + 1 < text.length) cur += text[++i];
    else if (!quote && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = '';
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * `K=V K2="v 2"` pairs, or the legacy `K V...` form when the first word has
 * no `=`; names and values expanded. ARG allows a bare `K` (no value).
 */
export function keyValues(text: string, vars: Vars, instr: string, escape = '\\'): [string, string | undefined][] {
  const parts = splitRaw(text, escape);
  if (!parts.length) throw invalidArgument(`${instr} requires at least one argument`);
  if (instr !== 'ARG' && !parts[0].includes('=')) {
    if (parts.length < 2) throw invalidArgument(`${instr} requires at least two arguments`);
    const rest = text.trimStart().slice(parts[0].length).trim();
    return [[expandWord(parts[0], vars, escape), expandWord(rest, vars, escape)]];
  }
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq < 0 && instr !== 'ARG') throw invalidArgument(`Syntax error - can't find = in "${p}". Must be of the form: name=value`);
    const name = expandWord(eq < 0 ? p : p.slice(0, eq), vars, escape);
    if (!name) throw invalidArgument(`${instr} names can not be blank`);
    return [name, eq < 0 ? undefined : expandWord(p.slice(eq + 1), vars, escape)];
  });
}
