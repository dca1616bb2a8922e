import * as fs from 'node:fs';
import { invalidArgument } from '../base/errors';
import { parseSize } from '../base/sizes';
import type { ApiClient } from '../client/client';
import { buildImage } from './build';
import { bool, list, type Parsed, str } from './flags';
import { login, logout, pull, push, search } from './registry';
import { ago, humanSize } from './output';
import { renderFormat } from './template';
import { type Command, each, f, FILTER, filters, FORMAT, progress, PRUNE_FILTER, reportPrune, saveTo, splitRef, write } from './command';

const IMAGE_HEADERS = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Digest: 'DIGEST', Containers: 'CONTAINERS' };

interface ImageSummary { Id: string; RepoTags: string[]; RepoDigests?: string[]; Created: number; Size: number; Labels: Record<string, string> }

async function images(api: ApiClient, p: Parsed): Promise<void> {
  const q: Record<string, string | boolean | undefined> = { all: bool(p, 'all'), filters: filters(p) };
  if (p.args[0]) {
    const fl = JSON.parse(q.filters as string ?? '{}');
    fl.reference = [...(fl.reference ?? []), p.args[0]];
    q.filters = JSON.stringify(fl);
  }
  const list_ = await api.json<ImageSummary[]>('GET', '/images/json', { query: q });
  const noTrunc = bool(p, 'no-trunc');
  const id = (x: string) => (noTrunc ? x : x.slice(7, 19));
  if (bool(p, 'quiet')) return void write([...new Set(list_.map((i) => id(i.Id)))].map((x) => x + '\n').join(''));
  const rows = list_.flatMap((i) => i.RepoTags.map((t) => {
    const at = t.lastIndexOf(':');
    const repo = t.slice(0, at);
    // The digest the image has in this name's repository, as docker shows it.
    const digest = (i.RepoDigests ?? []).find((d) => d.slice(0, d.indexOf('@')) === repo)?.split('@')[1] ?? '<none>';
    return { Repository: repo, Tag: t.slice(at + 1), ID: id(i.Id), CreatedSince: ago(i.Created), CreatedAt: new Date(i.Created * 1000).toISOString(), Size: humanSize(i.Size), Digest: digest, Containers: 'N/A' };
  }));
  const dflt = bool(p, 'digests') ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}' : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  write(renderFormat(str(p, 'format') ?? dflt, rows, IMAGE_HEADERS));
}


export const imageCmds: Record<string, Command> = {
  build: {
    flags: [f('tag', 'list', 't'), f('file', 'string', 'f'), f('build-arg', 'list'), f('target', 'string'), f('no-cache'), f('pull'), f('label', 'list'),
      f('network', 'string'), f('add-host', 'list'), f('squash'), f('progress', 'string'), f('quiet', 'bool', 'q'), f('iidfile', 'string'), f('rm'), f('force-rm'),
      f('secret', 'list'), f('cache-from', 'list'), f('platform', 'string')],
    minArgs: 1, maxArgs: 1, usage: 'build [OPTIONS] PATH', run: buildImage,
  },
  pull: { flags: [f('all-tags', 'bool', 'a'), f('quiet', 'bool', 'q'), f('platform', 'string'), f('disable-content-trust')], minArgs: 1, maxArgs: 1, usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', run: pull },
  push: { flags: [f('all-tags', 'bool', 'a'), f('quiet', 'bool', 'q'), f('disable-content-trust')], minArgs: 1, maxArgs: 1, usage: 'push [OPTIONS] NAME[:TAG]', run: push },
  login: { flags: [f('username', 'string', 'u'), f('password', 'string', 'p'), f('password-stdin')], maxArgs: 1, usage: 'login [OPTIONS] [SERVER]', run: login },
  logout: { flags: [], maxArgs: 1, usage: 'logout [SERVER]', run: logout },
  search: { flags: [f('limit', 'string'), FILTER, f('no-trunc'), FORMAT], minArgs: 1, maxArgs: 1, usage: 'search [OPTIONS] TERM', run: search },
  images: { flags: [f('all', 'bool', 'a'), f('quiet', 'bool', 'q'), f('no-trunc'), f('digests'), FILTER, FORMAT], usage: 'images [OPTIONS] [REPOSITORY[:TAG]]', run: images },
  rmi: {
    flags: [f('force', 'bool', 'f'), f('no-prune')], minArgs: 1, usage: 'rmi [OPTIONS] IMAGE [IMAGE...]',
    run: (api, p) => each(p.args, async (n) => {
      const r = await api.json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${n}`, { query: { force: bool(p, 'force') } });
      for (const x of r) write(x.Untagged ? `Untagged: ${x.Untagged}\n` : `Deleted: ${x.Deleted}\n`);
    }),
  },
  tag: {
    flags: [], minArgs: 2, usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
    run: async (api, p) => {
      const t = p.args[1];
      const at = t.lastIndexOf(':');
      const [repo, tag] = at > t.lastIndexOf('/') ? [t.slice(0, at), t.slice(at + 1)] : [t, 'latest'];
      await api.call('POST', `/images/${p.args[0]}/tag`, { query: { repo, tag } });
    },
  },
  import: {
    flags: [f('change', 'list', 'c'), f('message', 'string', 'm'), f('platform', 'string')], minArgs: 1, usage: 'import [OPTIONS] file|-  [REPOSITORY[:TAG]]',
    run: async (api, p) => {
      const src = p.args[0] === '-' ? process.stdin : fs.createReadStream(p.args[0]);
      const { repo, tag } = splitRef(p.args[1]);
      await progress(api.jsonLines('POST', '/images/create', { query: { fromSrc: '-', repo, tag, changes: list(p, 'change'), message: str(p, 'message') }, stream: src }));
    },
  },
  load: {
    flags: [f('input', 'string', 'i'), f('quiet', 'bool', 'q')], usage: 'load [OPTIONS]',
    run: async (api, p) => {
      const input = str(p, 'input');
      if (!input && process.stdin.isTTY) throw invalidArgument('requested load from stdin, but stdin is empty');
      await progress(api.jsonLines('POST', '/images/load', { query: { quiet: bool(p, 'quiet') }, stream: input ? fs.createReadStream(input) : process.stdin }));
    },
  },
  save: {
    flags: [f('output', 'string', 'o')], minArgs: 1, usage: 'save [OPTIONS] IMAGE [IMAGE...]',
    run: async (api, p) => {
      const out = str(p, 'output');
      if (!out && process.stdout.isTTY) throw invalidArgument('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      await saveTo(await api.request('GET', '/images/get', { query: { names: p.args } }), out);
    },
  },
  history: {
    flags: [f('human', 'bool', 'H'), f('no-trunc'), f('quiet', 'bool', 'q'), FORMAT], minArgs: 1, usage: 'history [OPTIONS] IMAGE',
    run: async (api, p) => {
      const h = await api.json<{ Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }[]>('GET', `/images/${p.args[0]}/history`);
      const noTrunc = bool(p, 'no-trunc');
      const rows = h.map((x) => ({ ID: x.Id === '<missing>' || noTrunc ? x.Id : x.Id.slice(7, 19), CreatedSince: ago(x.Created), CreatedBy: noTrunc || x.CreatedBy.length <= 45 ? x.CreatedBy : x.CreatedBy.slice(0, 44) + '…', Size: humanSize(x.Size), Comment: x.Comment }));
      if (bool(p, 'quiet')) return void write(rows.map((r) => r.ID + '\n').join(''));
      write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', rows, { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' }));
    },
  },
};

export const pruneImages: Command = {
  flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), PRUNE_FILTER], usage: 'image prune [OPTIONS]',
  run: async (api, p) => {
    const r = await api.json<{ ImagesDeleted: { Deleted?: string; Untagged?: string }[]; SpaceReclaimed: number }>('POST', '/images/prune', { query: { filters: JSON.stringify({ dangling: [bool(p, 'all') ? 'false' : 'true'] }) } });
    reportPrune('Deleted Images', (r.ImagesDeleted ?? []).map((x) => (x.Deleted ? `deleted: ${x.Deleted}` : `untagged: ${x.Untagged}`)), r.SpaceReclaimed);
  },
};

export const pruneBuildCache: Command = {
  flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), PRUNE_FILTER, f('keep-storage', 'string')], usage: 'builder prune [OPTIONS]',
  run: async (api, p) => {
    const r = await api.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
      query: { all: bool(p, 'all'), filters: filters(p), 'keep-storage': str(p, 'keep-storage') === undefined ? undefined : parseSize(str(p, 'keep-storage')!) },
    });
    reportPrune('Deleted build cache objects', r.CachesDeleted ?? [], r.SpaceReclaimed);
  },
};
