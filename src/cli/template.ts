import { invalidArgument } from '../base/errors';

/**
 * A Go text/template interpreter for docker's `--format`: fields and map
 * keys (`.State.Running`), `$` and `$var :=` in range, if/else if/else,
 * range, with, pipelines (`.X | json`), parentheses, and docker's functions
 * (json, join, split, lower, upper, title, len, index, println, print,
 * printf, truncate, pad). Values are JSON values from the API.
 */
type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; p: Pipeline }
  | { t: 'if'; branches: { cond: Pipeline; body: Node[] }[]; else?: Node[] }
  | { t: 'range'; p: Pipeline; vars: string[]; body: Node[]; else?: Node[] }
  | { t: 'with'; p: Pipeline; body: Node[]; else?: Node[] };

type Arg =
  | { k: 'field'; base: 'dot' | string; path: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'fn'; name: string }
  | { k: 'sub'; p: Pipeline; path: string[] };

interface Command {
  args: Arg[];
}

interface Pipeline {
  decl?: string[];
  cmds: Command[];
}

const NO_VALUE = Symbol('no value');

// ---- lexing actions ------------------------------------------------------------

function splitTemplate(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && src[start + 1] === ' ') {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    const close = findClose(src, start);
    let end = close;
    let after = close + 2;
    if (src[close - 1] === '-' && src[close - 2] === ' ') end = close - 1;
    out.push({ text });
    out.push({ action: src.slice(start, end).trim() });
    if (end !== close) {
      while (after < src.length && /\s/.test(src[after])) after++;
    }
    i = after;
  }
  return out;
}

function findClose(src: string, from: number): number {
  let inStr: string | null = null;
  for (let j = from; j < src.length - 1; j++) {
    const c = src[j];
    if (inStr) {
      if (c === '\\' && inStr === '"') j++;
      else if (c === inStr) inStr = null;
    } else if (c === '"' || c === '`') inStr = c;
    else if (c === '}' && src[j + 1] === '}') return j;
  }
  throw invalidArgument(`template: unclosed action`);
}

function tokenize(s: string): string[] {
  const toks: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      toks.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      toks.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === ')' && s[i + 1] === '.') {
      // `(pipeline).Field.Sub`: the fields belong to the parenthesized value.
      let j = i + 1;
      while (j < s.length && /[\w.]/.test(s[j])) j++;
      toks.push(')', `@${s.slice(i + 1, j)}`);
      i = j;
    } else if ('|(),'.includes(c)) {
      toks.push(c);
      i++;
    } else if (c === ':' && s[i + 1] === '=') {
      toks.push(':=');
      i += 2;
    } else {
      let j = i;
      while (j < s.length && !/\s/.test(s[j]) && !'|(),'.includes(s[j]) && !(s[j] === ':' && s[j + 1] === '=')) j++;
      toks.push(s.slice(i, j));
      i = j;
    }
  }
  return toks;
}

function parsePipeline(toks: string[], pos = { i: 0 }, stopAt = ''): Pipeline {
  const p: Pipeline = { cmds: [] };
  // `$x := ...` or `$i, $e := ...`
  const declEnd = toks.indexOf(':=', pos.i);
  if (declEnd > 0 && toks.slice(pos.i, declEnd).every((t) => t.startsWith('$') || t === ',')) {
    p.decl = toks.slice(pos.i, declEnd).filter((t) => t !== ',');
    pos.i = declEnd + 1;
  }
  let cmd: Command = { args: [] };
  while (pos.i < toks.length) {
    const t = toks[pos.i];
    if (t === stopAt) break;
    pos.i++;
    if (t === '|') {
      p.cmds.push(cmd);
      cmd = { args: [] };
    } else if (t === '(') {
      const sub = parsePipeline(toks, pos, ')');
      pos.i++;
      const fields = toks[pos.i]?.startsWith('@.') ? toks[pos.i++].slice(2).split('.') : [];
      cmd.args.push({ k: 'sub', p: sub, path: fields });
    } else cmd.args.push(parseArg(t));
  }
  if (cmd.args.length) p.cmds.push(cmd);
  if (!p.cmds.length) throw invalidArgument('template: missing value for command');
  return p;
}

function parseArg(t: string): Arg {
  if (t.startsWith('"')) return { k: 'lit', v: JSON.parse(t) };
  if (t.startsWith('`')) return { k: 'lit', v: t.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(t)) return { k: 'lit', v: Number(t) };
  if (t === 'true' || t === 'false') return { k: 'lit', v: t === 'true' };
  if (t === 'nil') return { k: 'lit', v: null };
  if (t === '.') return { k: 'field', base: 'dot', path: [] };
  if (t.startsWith('.')) return { k: 'field', base: 'dot', path: t.slice(1).split('.') };
  if (t.startsWith('$')) {
    const [v, ...rest] = t.split('.');
    return { k: 'field', base: v, path: rest };
  }
  if (/^[A-Za-z_]\w*$/.test(t)) return { k: 'fn', name: t };
  throw invalidArgument(`template: unexpected "${t}"`);
}

function parse(src: string): Node[] {
  const parts = splitTemplate(src);
  let idx = 0;
  const block = (stops: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (idx < parts.length) {
      const part = parts[idx++];
      if ('text' in part) {
        if (part.text) nodes.push({ t: 'text', s: part.text });
        continue;
      }
      const a = part.action;
      if (a.startsWith('/*')) continue;
      const word = a.split(/\s+/)[0];
      if (stops.includes(word)) return { nodes, stop: a };
      if (word === 'if' || word === 'range' || word === 'with') {
        const p = parsePipeline(tokenize(a.slice(word.length)));
        const body = block(['else', 'end']);
        let elseNodes: Node[] | undefined;
        const branches = [{ cond: p, body: body.nodes }];
        let stop = body.stop;
        while (stop.startsWith('else')) {
          const rest = stop.slice(4).trim();
          const b = block(['else', 'end']);
          if (word === 'if' && rest.startsWith('if ')) branches.push({ cond: parsePipeline(tokenize(rest.slice(3))), body: b.nodes });
          else elseNodes = b.nodes;
          stop = b.stop;
        }
        if (word === 'if') nodes.push({ t: 'if', branches, else: elseNodes });
        else if (word === 'range') nodes.push({ t: 'range', p: { cmds: p.cmds }, vars: p.decl ?? [], body: body.nodes, else: elseNodes });
        else nodes.push({ t: 'with', p, body: body.nodes, else: elseNodes });
        continue;
      }
      if (word === 'end' || word === 'else') throw invalidArgument(`template: unexpected {{${word}}}`);
      nodes.push({ t: 'action', p: parsePipeline(tokenize(a)) });
    }
    if (stops.length) throw invalidArgument('template: unexpected EOF');
    return { nodes, stop: '' };
  };
  return block([]).nodes;
}

// ---- evaluation ----------------------------------------------------------------

interface Scope {
  dot: unknown;
  vars: Map<string, unknown>;
}

export function goString(v: unknown): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

function truthy(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function field(v: unknown, name: string): unknown {
  if (v === null || v === undefined || v === NO_VALUE) return NO_VALUE;
  if (typeof v !== 'object') throw invalidArgument(`template: can't evaluate field ${name} in type ${typeof v}`);
  const o = v as Record<string, unknown>;
  if (name in o) return o[name];
  // Docker's Go structs are case-sensitive, but the API's JSON is what we hold: try the common spellings.
  const alt = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return alt !== undefined ? o[alt] : NO_VALUE;
}

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v === NO_VALUE ? null : v),
  join: (arr, sep) => (Array.isArray(arr) ? arr.map(goString).join(String(sep)) : goString(arr)),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => goString(s).toLowerCase(),
  upper: (s) => goString(s).toUpperCase(),
  title: (s) => goString(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  index: (v, ...keys) => keys.reduce((acc: unknown, k) => (Array.isArray(acc) ? acc[Number(k)] : field(acc, String(k))), v),
  println: (...a) => a.map(goString).join(' ') + '\n',
  print: (...a) => a.map(goString).join(''),
  printf: (fmt, ...a) => {
    let i = 0;
    return String(fmt).replace(/%([-\d.]*)([svdq%])/g, (_m, _w, c) => (c === '%' ? '%' : c === 'q' ? JSON.stringify(goString(a[i++])) : goString(a[i++])));
  },
  truncate: (s, n) => goString(s).slice(0, Number(n)),
  pad: (s, l, r) => ' '.repeat(Number(l)) + goString(s) + ' '.repeat(Number(r)),
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  not: (a) => !truthy(a),
  and: (...a) => a.reduce((x, y) => (truthy(x) ? y : x)),
  or: (...a) => a.reduce((x, y) => (truthy(x) ? x : y)),
};

function evalArg(a: Arg, s: Scope): unknown {
  switch (a.k) {
    case 'lit':
      return a.v;
    case 'sub': {
      let v = evalPipeline(a.p, s);
      for (const f of a.path) v = field(v, f);
      return v;
    }
    case 'fn':
      return callFn(a.name, []);
    case 'field': {
      let v: unknown;
      if (a.base === 'dot') v = s.dot;
      else {
        if (!s.vars.has(a.base)) throw invalidArgument(`template: undefined variable "${a.base}"`);
        v = s.vars.get(a.base);
      }
      for (const p of a.path) v = field(v, p);
      return v;
    }
  }
}

function callFn(name: string, args: unknown[]): unknown {
  const f = FUNCS[name];
  if (!f) throw invalidArgument(`template: function "${name}" not defined`);
  return f(...args);
}

function evalCommand(c: Command, s: Scope, piped: unknown | typeof NO_PIPE): unknown {
  const [head, ...rest] = c.args;
  if (head.k === 'fn') {
    const args = rest.map((a) => evalArg(a, s));
    if (piped !== NO_PIPE) args.push(piped);
    return callFn(head.name, args);
  }
  if (rest.length || piped !== NO_PIPE) throw invalidArgument('template: can\'t give argument to non-function');
  return evalArg(head, s);
}

const NO_PIPE = Symbol('no pipe');

function evalPipeline(p: Pipeline, s: Scope): unknown {
  let v: unknown = NO_PIPE;
  for (const c of p.cmds) v = evalCommand(c, s, v);
  if (p.decl?.length) s.vars.set(p.decl[p.decl.length - 1], v);
  return v;
}

function exec(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.s);
        break;
      case 'action': {
        const v = evalPipeline(n.p, s);
        if (!n.p.decl) out.push(goString(v));
        break;
      }
      case 'if': {
        const b = n.branches.find((br) => truthy(evalPipeline(br.cond, s)));
        if (b) exec(b.body, s, out);
        else if (n.else) exec(n.else, s, out);
        break;
      }
      case 'with': {
        const v = evalPipeline(n.p, s);
        if (truthy(v)) exec(n.body, { ...s, dot: v }, out);
        else if (n.else) exec(n.else, s, out);
        break;
      }
      case 'range': {
        const v = evalPipeline(n.p, s);
        const entries: [unknown, unknown][] = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === 'object'
            ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
            : [];
        if (!entries.length && n.else) exec(n.else, s, out);
        for (const [k, x] of entries) {
          const vars = new Map(s.vars);
          if (n.vars.length === 1) vars.set(n.vars[0], x);
          if (n.vars.length === 2) {
            vars.set(n.vars[0], k);
            vars.set(n.vars[1], x);
          }
          exec(n.body, { dot: x, vars }, out);
        }
        break;
      }
    }
  }
}

export interface Template {
  execute(data: unknown): string;
}

export function compileTemplate(src: string): Template {
  const nodes = parse(src);
  return {
    execute(data) {
      const out: string[] = [];
      exec(nodes, { dot: data, vars: new Map([['$', data]]) }, out);
      return out.join('');
    },
  };
}

/** Aligns tab-separated cells as docker's tabwriter (min width 10, padding 3). */
export function tabulate(lines: string[]): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { if (i < r.length - 1) widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(Math.max(10, widths[i] + 3)) : c)).join('').trimEnd()).join('\n');
}

/**
 * Renders rows with a `--format`: `table ...` prints a header made from the
 * same template over `headers` and aligns columns; anything else prints one
 * line per row.
 */
export function renderFormat(format: string, rows: unknown[], headers: Record<string, string>): string {
  const isTable = format.startsWith('table');
  const body = isTable ? format.replace(/^table\s*/, '') : format;
  const src = body.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tpl = compileTemplate(src);
  const lines = rows.map((r) => tpl.execute(r));
  if (!isTable) return lines.map((l) => l + '\n').join('');
  const header = compileTemplate(src).execute(new Proxy({}, { get: (_t, k) => headers[String(k)] ?? String(k).toUpperCase(), has: () => true }));
  return tabulate([header, ...lines]) + '\n';
}
