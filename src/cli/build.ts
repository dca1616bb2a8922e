import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ignoreMatcher, ignorePatterns } from '../base/dockerignore';
import { BerthError, invalidArgument } from '../base/errors';
import type { ApiClient } from '../client/client';
import { registryConfigHeader } from './credentials';
import { bool, list, type Parsed, str } from './flags';
import { tar } from './gnu-tar';
import { statIfExists } from '../base/files';

/**
 * The build context as a tar stream, read from disk by GNU tar as it is
 * sent (a tenth of the time of packing in Node, per small file): what
 * .dockerignore excludes is left out, except the Dockerfile and
 * .dockerignore themselves (the daemon drops them when listed, as
 * docker's). A Dockerfile from stdin travels under a name of its own, as
 * the docker CLI sends it.
 */
export function contextTar(dir: string, dockerfile: string, ignored: (rel: string) => boolean, stdinDockerfile?: string): Readable {
  const always = new Set([dockerfile, '.dockerignore']);
  const names: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const skip = ignored(r) && !always.has(r);
      if (!skip) names.push(`./${r}`); // never taken for an option
      // An ignored folder is still walked: a `!` exception may keep something in it.
      if (e.isDirectory()) walk(r);
    }
  };
  walk('');
  const args = ['-c', '-f', '-', '--no-recursion', '--null', '--numeric-owner', '--owner=0', '--group=0', '-C', dir];
  let extra: string | undefined;
  if (stdinDockerfile !== undefined) {
    extra = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dockerfile-'));
    fs.writeFileSync(path.join(extra, dockerfile), stdinDockerfile);
    args.push('-C', extra, `./${dockerfile}`, '-C', dir);
  }
  const { stdout, done } = tar([...args, '-T', '-'], Readable.from([names.map((n) => n + '\0').join('')]), true);
  const out = new PassThrough();
  stdout!.pipe(out, { end: false });
  done.then(
    () => out.end(),
    (e) => out.destroy(e),
  ).finally(() => extra && fs.rmSync(extra, { recursive: true, force: true }));
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** `K=V`, or `K` alone for the value of K in this environment (as docker's --build-arg). */
function keyValueFlags(items: string[], fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of items) {
    const eq = x.indexOf('=');
    if (eq === 0) throw invalidArgument(`invalid argument "${x}": a name is required`);
    if (eq > 0) out[x.slice(0, eq)] = x.slice(eq + 1);
    else if (fromEnv && process.env[x] !== undefined) out[x] = process.env[x]!;
    else if (!fromEnv) out[x] = '';
  }
  return out;
}

/** Bounded so the header fits the daemon's limit with room for the rest. */
const MAX_SECRETS = 48 << 10;

/**
 * `--secret id=ID[,src=FILE|,env=VAR]` (docker buildx's form; `type=file|env`
 * too; a bare id is read from the variable of that name, as buildx): sent in
 * a header of the build request, never in the context or the URL.
 */
async function secretsHeader(items: string[]): Promise<Record<string, string>> {
  if (!items.length) return {};
  const out: Record<string, string> = {};
  for (const item of items) {
    const o = new Map(item.split(',').map((kv) => [kv.slice(0, kv.indexOf('=') < 0 ? kv.length : kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
    const id = o.get('id');
    if (!id) throw invalidArgument(`--secret ${item}: an id is required (id=ID,src=FILE)`);
    const src = o.get('src') ?? o.get('source');
    const env = o.get('env') ?? (o.get('type') === 'env' ? id : undefined);
    let data: Buffer;
    if (src !== undefined) {
      data = await fsp.readFile(src).catch((e) => {
        throw invalidArgument(`--secret ${id}: cannot read ${src}: ${(e as Error).message}`);
      });
    } else if (env !== undefined || process.env[id] !== undefined) {
      const v = process.env[env ?? id];
      if (v === undefined) throw invalidArgument(`--secret ${id}: the variable ${env ?? id} is not set`);
      data = Buffer.from(v);
    } else throw invalidArgument(`--secret ${id}: give src=FILE or env=VAR`);
    out[id] = data.toString('base64');
  }
  const header = Buffer.from(JSON.stringify(out)).toString('base64url');
  if (header.length > MAX_SECRETS) throw invalidArgument(`--secret: ${header.length} bytes encoded, more than the ${MAX_SECRETS} a build request carries`);
  return { 'X-Berth-Build-Secrets': header };
}

/** What a build is asked: `berth build`'s flags, or a compose service's `build:`. */
export interface BuildRequest {
  /** The context folder. */
  dir: string;
  /** The Dockerfile: '-' for stdin, a path (relative to the working folder), or none for the context's. */
  file?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  network?: string;
  extraHosts?: string[];
  cacheFrom?: string[];
  platform?: string;
  quiet?: boolean;
  secrets?: string[];
  squash?: boolean;
  /** Step lines highlighted, as on a terminal. */
  tty: boolean;
  /** Where the steps go (stdout by default). */
  out?: NodeJS.WritableStream;
}

/** Sends a context to POST /build and shows the steps as they go; returns the image id. */
export async function sendBuild(api: ApiClient, r: BuildRequest): Promise<string> {
  const dir = path.resolve(r.dir);
  const st = await statIfExists(dir);
  if (!st?.isDirectory()) throw invalidArgument(`unable to prepare context: path "${r.dir}" not found`);
  const fileFlag = r.file;
  const inside = fileFlag && fileFlag !== '-' ? path.relative(dir, path.resolve(fileFlag)) : undefined;
  // A Dockerfile from stdin or from outside the context travels in it under a name of its own, as the docker CLI sends it.
  const outside = inside !== undefined && (inside.startsWith('..') || path.isAbsolute(inside));
  const fromStdin = fileFlag === '-' ? await readStdin() : outside ? readDockerfile(fileFlag!) : undefined;
  const dockerfile = fromStdin !== undefined ? `.dockerfile.${randomBytes(10).toString('hex')}` : inside ?? 'Dockerfile';
  const ignoreText = await fsp.readFile(path.join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const lines = api.jsonLines<{ stream?: string; aux?: { ID: string }; error?: string }>('POST', '/build', {
    query: {
      t: r.tags,
      dockerfile: dockerfile.split(path.sep).join('/'),
      buildargs: JSON.stringify(r.buildArgs),
      labels: JSON.stringify(r.labels),
      target: r.target,
      nocache: r.noCache,
      timings: true,
      pull: r.pull,
      networkmode: r.network,
      extrahosts: r.extraHosts ?? [],
      squash: r.squash,
      cachefrom: r.cacheFrom?.length ? JSON.stringify(r.cacheFrom) : undefined,
      platform: r.platform,
      q: r.quiet,
    },
    stream: contextTar(dir, dockerfile, ignoreMatcher(ignorePatterns(ignoreText)), fromStdin),
    headers: { ...registryConfigHeader(), ...(await secretsHeader(r.secrets ?? [])) },
  });
  return showProgress(lines, r.tty, r.out ?? process.stdout);
}

/** `berth build`: sends the context to POST /build and shows the steps as they go. */
export async function buildImage(api: ApiClient, p: Parsed): Promise<number> {
  const progress = str(p, 'progress') ?? 'auto';
  if (!['auto', 'plain', 'tty'].includes(progress)) throw invalidArgument(`invalid --progress: ${progress} (auto, plain or tty)`);
  const quiet = bool(p, 'quiet');
  const id = await sendBuild(api, {
    dir: p.args[0],
    file: str(p, 'file'),
    tags: list(p, 'tag'),
    buildArgs: keyValueFlags(list(p, 'build-arg'), true),
    labels: keyValueFlags(list(p, 'label'), false),
    target: str(p, 'target'),
    noCache: bool(p, 'no-cache'),
    pull: bool(p, 'pull'),
    network: str(p, 'network'),
    extraHosts: list(p, 'add-host'),
    squash: bool(p, 'squash'),
    cacheFrom: list(p, 'cache-from'),
    platform: str(p, 'platform'),
    quiet,
    secrets: list(p, 'secret'),
    tty: progress === 'tty' || (progress === 'auto' && !!process.stdout.isTTY),
  });
  if (quiet) process.stdout.write(id + '\n');
  const iid = str(p, 'iidfile');
  if (iid) await fsp.writeFile(iid, id);
  return 0;
}

/** Shows a build's or bootstrap's messages as they come; returns the image id. */
async function showProgress(lines: AsyncIterable<{ stream?: string; aux?: { ID: string }; error?: string }>, tty: boolean, out: NodeJS.WritableStream = process.stdout): Promise<string> {
  let id = '';
  for await (const l of lines) {
    if (l.error) throw new BerthError('internal', l.error);
    if (l.aux?.ID) id = l.aux.ID;
    if (!l.stream) continue;
    // On a terminal the step lines stand out; plain output is the stream as it came.
    if (tty && l.stream.startsWith('Step ')) out.write(`\x1b[1m${l.stream.trimEnd()}\x1b[0m\n`);
    else if (tty && l.stream.startsWith(' ---> Using cache')) out.write(`\x1b[32m${l.stream}\x1b[0m`);
    else out.write(l.stream);
  }
  return id;
}

/** `berth image bootstrap NAME`: a Debian base image from a mirror, with debootstrap, in the daemon. */
export async function bootstrapImage(api: ApiClient, p: Parsed): Promise<number> {
  const lines = api.jsonLines<{ stream?: string; aux?: { ID: string }; error?: string }>('POST', '/berth/images/bootstrap', {
    query: { name: p.args[0], suite: str(p, 'suite'), mirror: str(p, 'mirror'), variant: str(p, 'variant'), include: list(p, 'include').flatMap((x) => x.split(',')) },
  });
  const quiet = bool(p, 'quiet');
  const id = await showProgress(quiet ? quietly(lines) : lines, false);
  process.stdout.write(id + '\n');
  return 0;
}

async function* quietly<T extends { stream?: string }>(lines: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const l of lines) yield { ...l, stream: undefined };
}

function readDockerfile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`unable to prepare context: the Dockerfile (${file}) cannot be read: ${(e as Error).message}`);
  }
}
