import type { ApiClient } from '../client/client';
import { invalidArgument } from '../base/errors';
import { familiarString, formatReference, parseReference, type Reference } from '../oci/reference';
import { credentialsFor, pushAuthHeader, registryAuthHeader, removeCredentials, serverKey, serverOf, storeCredentials } from './credentials';
import { bool, type Parsed, str } from './flags';
import { filters, write } from './command';
import { renderFormat } from './template';
import { type ProgressMessage, showPullProgress } from './progress';

/**
 * A reference as `pull`/`push` send it: without `-a`, a bare name means
 * `latest`; with `-a` (every tag), a tag or digest is refused, as docker's.
 */
function targetOf(p: Parsed): Reference {
  const all = bool(p, 'all-tags');
  const ref = parseReference(p.args[0], { defaultTag: !all });
  if (all && (ref.tag || ref.digest)) throw invalidArgument('tag can\'t be used with --all-tags/-a');
  return ref;
}

/** `berth pull [-a] [-q] [--platform os/arch] NAME[:TAG|@DIGEST]` */
export async function pull(api: ApiClient, p: Parsed): Promise<number> {
  const ref = targetOf(p);
  const fromImage = familiarString({ ...ref, tag: undefined, digest: undefined });
  const messages = api.jsonLines<ProgressMessage>('POST', '/images/create', {
    query: { fromImage, tag: ref.digest ?? ref.tag, platform: str(p, 'platform') },
    headers: registryAuthHeader(serverOf(p.args[0])),
  });
  const quiet = bool(p, 'quiet');
  await showPullProgress(messages, !quiet && process.stdout.isTTY === true, quiet ? devNull : process.stdout);
  process.stdout.write(`${formatReference(ref)}\n`);
  return 0;
}

const devNull = { write: () => true } as unknown as NodeJS.WritableStream;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`: checked by the daemon, kept in docker's config.json. */
export async function login(api: ApiClient, p: Parsed): Promise<number> {
  const server = p.args[0] ?? 'docker.io';
  let username = str(p, 'username');
  let password = str(p, 'password');
  if (bool(p, 'password-stdin')) {
    if (password) throw invalidArgument('--password and --password-stdin are mutually exclusive');
    if (!username) throw invalidArgument('Must provide --username with --password-stdin');
    password = await readStdin();
  }
  const saved = credentialsFor(server);
  username ??= saved?.username;
  password ??= username === saved?.username ? saved?.password : undefined;
  if (!username || !password) throw invalidArgument('Error: Cannot perform an interactive login from a non TTY device: give --username and --password-stdin');
  const r = await api.json<{ Status: string }>('POST', '/auth', { body: { username, password, serveraddress: serverKey(server) } });
  storeCredentials({ username, password, serveraddress: server });
  process.stdout.write(`${r.Status}\n`);
  return 0;
}

/** `berth logout [SERVER]` */
export async function logout(_api: ApiClient, p: Parsed): Promise<number> {
  const server = p.args[0] ?? 'docker.io';
  if (removeCredentials(server)) process.stdout.write(`Removing login credentials for ${serverKey(server)}\n`);
  else process.stdout.write(`Not logged in to ${serverKey(server)}\n`);
  return 0;
}

/** `berth push [-a] [-q] NAME[:TAG]` */
export async function push(api: ApiClient, p: Parsed): Promise<number> {
  const ref = targetOf(p);
  if (ref.digest) throw invalidArgument(`cannot push a digest reference: ${p.args[0]}`);
  const name = familiarString({ ...ref, tag: undefined, digest: undefined });
  const messages = api.jsonLines<ProgressMessage>('POST', `/images/${name}/push`, {
    query: { tag: ref.tag },
    headers: pushAuthHeader(serverOf(p.args[0])),
  });
  const quiet = bool(p, 'quiet');
  const all = await showPullProgress(messages, !quiet && process.stdout.isTTY === true, quiet ? devNull : process.stdout);
  if (quiet) process.stdout.write(`${formatReference(ref)}\n`);
  return all.some((m) => m.aux?.Digest) ? 0 : 1;
}

/**
 * `berth image prefetch [--platform] IMAGE`: the image into the store ahead
 * of a deploy; one line of what it took. With `--nodes all|KEY=VALUE` (on a
 * cluster manager), into the nodes' stores instead: a line per node as it
 * answers; a failure on any is a failure.
 */
export async function prefetch(api: ApiClient, p: Parsed): Promise<number> {
  const nodes = str(p, 'nodes');
  if (nodes !== undefined) return prefetchOnNodes(api, p.args[0], nodes);
  const r = await api.json<{ Id: string; Digest: string; LayersFetched: number; LayersPresent: number; Bytes: number; Seconds: number }>('POST', '/berth/images/prefetch', {
    query: { reference: p.args[0], platform: str(p, 'platform') },
    headers: registryAuthHeader(serverOf(p.args[0])),
  });
  process.stdout.write(`${formatReference(parseReference(p.args[0]))} ${r.Id.slice(7, 19)}: ${r.LayersFetched} layers fetched (${(r.Bytes / 1e6).toFixed(1)} MB), ${r.LayersPresent} present, in ${r.Seconds.toFixed(2)} s\n`);
  return 0;
}

async function prefetchOnNodes(api: ApiClient, image: string, nodes: string): Promise<number> {
  const { ID } = await api.json<{ ID: string }>('POST', '/berth/cluster/prefetch', { query: { reference: image, nodes } });
  const told = new Set<string>();
  let failed = 0;
  for (;;) {
    const st = await api.json<{ Nodes: { ID: string; Hostname: string; Done: boolean; Ok?: boolean; Message?: string; Seconds?: number }[] }>('GET', `/berth/cluster/prefetch/${ID}`);
    for (const n of st.Nodes) {
      if (!n.Done || told.has(n.ID)) continue;
      told.add(n.ID);
      if (!n.Ok) failed++;
      (n.Ok ? process.stdout : process.stderr).write(`${n.Hostname}: ${n.Message}${n.Ok ? ` (${n.Seconds} s)` : ''}\n`);
    }
    if (told.size === st.Nodes.length) return failed ? 1 : 0;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** `berth search [--limit N] [-f stars=N|is-official=B|is-automated=B] [--no-trunc] [--format F] TERM`, as docker's. */
export async function search(api: ApiClient, p: Parsed): Promise<number> {
  const term = p.args[0];
  const first = term.includes('/') ? term.slice(0, term.indexOf('/')) : '';
  const server = first === 'localhost' || /[.:]/.test(first) ? first : 'docker.io';
  const results = await api.json<{ name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }[]>('GET', '/images/search', {
    query: { term, limit: str(p, 'limit'), filters: filters(p) },
    headers: registryAuthHeader(server),
  });
  const noTrunc = bool(p, 'no-trunc');
  const rows = results.map((r) => ({
    Name: r.name,
    Description: noTrunc || r.description.length <= 45 ? r.description : `${r.description.slice(0, 44)}…`,
    StarCount: String(r.star_count),
    IsOfficial: r.is_official ? '[OK]' : '',
    IsAutomated: r.is_automated ? '[OK]' : '',
  }));
  write(renderFormat(str(p, 'format') ?? 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}', rows, { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' }));
  return 0;
}
