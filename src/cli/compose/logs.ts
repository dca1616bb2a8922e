import { type ApiClient, demux } from '../../client/client';
import { type ContainerSummary, nameOf } from '../../compose/resources';
import { bool, str } from '../flags';
import { f } from '../command';
import type { ComposeCommand } from './project';
import { Label } from '../../compose/labels';
import { projectContainers } from '../../compose/resources';

export interface LogOptions {
  follow: boolean;
  tail?: string;
  timestamps?: boolean;
  since?: string;
  prefix: boolean;
}

const COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/**
 * The output of several containers at once, each line after its
 * container's name (`web-1  | ...`), names padded to one width and coloured
 * on a terminal, as docker compose shows them. Ends when every stream ends.
 */
export async function showLogs(api: ApiClient, containers: ContainerSummary[], o: LogOptions, signal?: AbortSignal): Promise<void> {
  const names = containers.map((c) => nameOf(c));
  const width = Math.max(0, ...names.map((n) => n.length));
  const tty = process.stdout.isTTY === true;
  await Promise.all(containers.map(async (c, i) => {
    const label = names[i].padEnd(width);
    const prefix = !o.prefix ? '' : tty ? `\x1b[${COLORS[i % COLORS.length]}m${label}  |\x1b[0m ` : `${label}  | `;
    let partial = ['', '', ''];
    const emit = (stream: number, data: Buffer) => {
      const text = partial[stream] + data.toString();
      const lines = text.split('\n');
      partial[stream] = lines.pop()!;
      if (lines.length) (stream === 2 ? process.stderr : process.stdout).write(lines.map((l) => prefix + l + '\n').join(''));
    };
    try {
      const info = await api.json<{ Config: { Tty: boolean } }>('GET', `/containers/${c.Id}/json`);
      const res = await api.request('GET', `/containers/${c.Id}/logs`, { query: { stdout: true, stderr: true, follow: o.follow, tail: o.tail ?? 'all', timestamps: o.timestamps, since: o.since }, signal });
      if (info.Config.Tty) for await (const chunk of res) emit(1, chunk as Buffer);
      else for await (const fr of demux(res as AsyncIterable<Buffer>)) emit(fr.stream === 2 ? 2 : 1, fr.data);
    } catch (e) {
      // An aborted follow (Ctrl-C, or `up` stopping its containers) ends this stream quietly.
      if (!signal?.aborted) throw e;
    }
    partial.forEach((rest, s) => rest && emit(s, Buffer.from('\n')));
    partial = ['', '', ''];
  }));
}

export const logs: ComposeCommand = {
  flags: [f('follow', 'bool', 'f'), f('tail', 'string', 'n'), f('timestamps', 'bool', 't'), f('since', 'string'), f('no-color'), f('no-log-prefix'), f('index', 'string')],
  usage: 'compose logs [OPTIONS] [SERVICE...]',
  run: async (ctx, p) => {
    const { name } = ctx.projectOrName();
    let cs = await projectContainers(ctx.api, name);
    if (p.args.length) cs = cs.filter((c) => p.args.includes(c.Labels[Label.service]));
    await showLogs(ctx.api, cs, { follow: bool(p, 'follow'), tail: str(p, 'tail'), timestamps: bool(p, 'timestamps'), since: str(p, 'since'), prefix: !bool(p, 'no-log-prefix') });
  },
};
