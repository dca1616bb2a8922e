import { DockerfileParser } from 'dockerfile-ast';
import { BerthError, invalidArgument } from '../base/errors';

/** One instruction as written: its keyword, flags, and the rest of its text (continuations joined). */
export interface Instruction {
  keyword: string;
  /** 1-based line of the keyword. */
  line: number;
  flags: Map<string, string | true>;
  /** The arguments after the flags, unexpanded. */
  args: string;
  /** The exec (JSON array) form, when the arguments are one. */
  json?: string[];
  /** The instruction as written (its first line when it has here-documents), for messages and history. */
  text: string;
  /** Its here-documents (RUN, COPY, ADD), in order. */
  heredocs: Heredoc[];
  /** RUN's `--mount` values, in order (the flag may repeat). */
  mounts: string[];
}

/** A here-document: `<<NAME` (expanded), `<<"NAME"` (as written), `<<-NAME` (leading tabs removed). */
export interface Heredoc {
  name: string;
  /** The lines between the marker and the delimiter, each with its newline. */
  body: string;
  /** Unquoted: COPY expands its variables. */
  expand: boolean;
  /** `<<-`: the shell strips leading tabs; COPY does too. */
  chomp: boolean;
}

export interface Stage {
  index: number;
  /** The `AS` name, lower case. */
  name?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  escape: string;
  /** ARGs before the first FROM: they may be used in FROM lines. */
  metaArgs: Instruction[];
  stages: Stage[];
}

const KEYWORDS = new Set(['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** Flags each instruction takes; anything else is refused, as docker does. */
const FLAGS: Record<string, string[]> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod', 'link'],
  ADD: ['chown', 'chmod', 'link', 'checksum'],
  RUN: ['mount', 'network', 'security'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

/** An error about a line of a Dockerfile: `Dockerfile:12: COPY x /y: ...`. */
export function lineError(file: string, i: Pick<Instruction, 'line' | 'text'>, message: string, code: BerthError['code'] = 'invalid_argument', exitCode?: number): BerthError {
  return new BerthError(code, `${file}:${i.line}: ${i.text}: ${message}`, { exitCode });
}

/** The exec form of an argument text, if it is a JSON array of strings. */
export function jsonForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith('[')) return undefined;
  try {
    const v = JSON.parse(args);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* docker takes a malformed JSON form for the shell form */
  }
  return undefined;
}

/** One instruction line (used for ONBUILD triggers and `--change`). */
export function parseInstruction(text: string, line = 1, file = 'Dockerfile'): Instruction {
  const df = DockerfileParser.parse(text);
  const [first] = df.getInstructions();
  if (!first) throw invalidArgument(`${file}:${line}: empty instruction`);
  return toInstruction(first, line, text.trim(), file, text.split('\n'));
}

type AstInstruction = ReturnType<ReturnType<typeof DockerfileParser.parse>['getInstructions']>[number];
type Lines = { start: { line: number }; end: { line: number } };
type AstHeredoc = { getName(): string; getContentRange(): Lines | null; getDelimiterRange(): Lines | null };

function astHeredocs(node: AstInstruction): AstHeredoc[] {
  // As BuildKit: only RUN, COPY and ADD take here-documents; elsewhere `<<` is text.
  if (!HEREDOC_KEYWORDS.has(node.getKeyword().toUpperCase())) return [];
  const n = node as unknown as { getHeredocs?: () => AstHeredoc[] };
  return typeof n.getHeredocs === 'function' ? n.getHeredocs() : [];
}

/** The last line of an instruction's own text: before its first here-document's lines. */
function headEnd(node: AstInstruction): number {
  const [h] = astHeredocs(node);
  const next = h && (h.getContentRange() ?? h.getDelimiterRange());
  return next ? next.start.line - 1 : node.getRange().end.line;
}

const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

/** Flags of BuildKit's newer Dockerfile syntax that Berth does not have: refused, saying so. */
const NEWER_FLAGS = new Set(['keep-git-dir', 'parents', 'exclude', 'device']);

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` as a word of the instruction's first line. */
const HEREDOC_MARK = /(?:^|\s)\d*<<(-?)(["']?)([^\s<>"']+)\2(?=\s|$)/g;

function heredocsOf(node: AstInstruction, rest: string, source: string[]): { heredocs: Heredoc[]; args: string } {
  const ast = astHeredocs(node);
  if (!ast.length) return { heredocs: [], args: rest };
  // The arguments are the first line; the documents' lines follow it.
  const args = rest.split('\n')[0];
  const marks = [...args.matchAll(HEREDOC_MARK)];
  const heredocs = ast.map((h, n) => {
    const r = h.getContentRange();
    const body = r ? source.slice(r.start.line, r.end.line + 1).map((l) => `${l}\n`).join('') : '';
    const m = marks[n];
    return { name: h.getName(), body, expand: !m?.[2], chomp: m?.[1] === '-' };
  });
  return { heredocs, args };
}

function toInstruction(node: AstInstruction, line: number, text: string, file: string, source: string[]): Instruction {
  const keywordRaw = node.getKeyword();
  const keyword = keywordRaw.toUpperCase();
  if (!KEYWORDS.has(keyword)) throw lineError(file, { line, text }, `unknown instruction: ${keywordRaw}`);
  // dockerfile-ast keeps the flags of the instructions that take some apart from the arguments.
  const astFlags = 'getFlags' in node && typeof node.getFlags === 'function' ? (node.getFlags() as { getName(): string; getValue(): string | null }[]) : [];
  const { heredocs, args: rest } = heredocsOf(node, node.getArgumentsContent() ?? '', source);
  const where = { line, text };
  const flags = new Map<string, string | true>(astFlags.map((f) => [f.getName(), f.getValue() ?? true]));
  const mounts = astFlags.filter((f) => f.getName() === 'mount').map((f) => f.getValue() ?? '');
  for (const name of flags.keys()) {
    if (NEWER_FLAGS.has(name) && FLAGS[keyword] && !FLAGS[keyword].includes(name)) throw lineError(file, where, `--${name} is not supported: it belongs to a newer Dockerfile syntax than Berth's (BuildKit's dockerfile:1.6)`);
    if (!FLAGS[keyword]?.includes(name)) throw lineError(file, where, `unknown flag: --${name}`);
  }
  const args = rest.trim();
  if (!args && keyword !== 'RUN' && keyword !== 'CMD' && keyword !== 'ENTRYPOINT') throw lineError(file, where, `${keyword} requires at least one argument`);
  return { keyword, line, flags, args, json: heredocs.length ? undefined : jsonForm(args), text, heredocs, mounts };
}

/**
 * Parses a Dockerfile into its meta ARGs and stages. dockerfile-ast finds
 * the instructions, lines, continuations, comments and the escape
 * directive; words and variables are left to the builder, which knows the
 * values in scope.
 */
export function parseDockerfile(source: string, file = 'Dockerfile'): Dockerfile {
  const df = DockerfileParser.parse(source);
  const escape = df.getEscapeCharacter();
  const lines = source.split('\n');
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const node of df.getInstructions()) {
    const range = node.getRange();
    const line = range.start.line + 1;
    const text = lines.slice(range.start.line, headEnd(node) + 1).map((l) => l.trim()).join(' ').replace(/\s+/g, ' ').slice(0, 200);
    const i = toInstruction(node, line, text, file, lines);
    if (i.keyword === 'FROM') {
      const words = i.args.split(/\s+/);
      if (words.length !== 1 && !(words.length === 3 && words[1].toLowerCase() === 'as')) throw lineError(file, i, 'FROM requires either one or three arguments');
      const name = words[2]?.toLowerCase();
      if (name !== undefined) {
        if (!/^[a-z][a-z0-9._-]*$/.test(name)) throw lineError(file, i, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
        if (stages.some((s) => s.name === name)) throw lineError(file, i, `duplicate name for build stage: ${name}`);
      }
      stages.push({ index: stages.length, name, from: i, instructions: [] });
    } else if (!stages.length) {
      if (i.keyword !== 'ARG') throw lineError(file, i, 'no build stage in current context: the first instruction must be FROM (or ARG)');
      metaArgs.push(i);
    } else stages[stages.length - 1].instructions.push(i);
  }
  if (!stages.length) throw invalidArgument(`${file}: no build stage: the file has no FROM instruction`);
  return { escape, metaArgs, stages };
}
