// berth secret|config: the cluster's named data, through the Engine API's endpoints, with docker's flags and columns.
import * as fs from 'node:fs';
import { type Command, each, f, FILTER, filters, FORMAT, write } from './command';
import { inspectEach } from './cluster-commands';
import { bool, list, str } from './flags';
import { ago } from './output';
import { renderFormat } from './template';

interface ObjectSummary { ID: string; CreatedAt: string; UpdatedAt: string; Spec: { Name: string; Labels: Record<string, string> } }

async function readAll(src: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** create, ls, inspect and rm of one kind: the same four commands for secrets and configs, as docker's. */
function objectCommands(kind: 'secret' | 'config'): Record<string, Command> {
  const base = `/${kind}s`;
  return {
    create: {
      flags: [f('label', 'list', 'l')], minArgs: 2, maxArgs: 2, usage: `${kind} create [OPTIONS] ${kind.toUpperCase()} file|-`,
      run: async (api, p) => {
        const [name, file] = p.args;
        const data = await readAll(file === '-' ? process.stdin : fs.createReadStream(file));
        const labels = Object.fromEntries(list(p, 'label').map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
        const r = await api.json<{ ID: string }>('POST', `${base}/create`, { body: { Name: name, Labels: labels, Data: data.toString('base64') } });
        write(`${r.ID}\n`);
      },
    },
    ls: {
      flags: [f('quiet', 'bool', 'q'), FILTER, FORMAT], usage: `${kind} ls [OPTIONS]`,
      run: async (api, p) => {
        const list = await api.json<ObjectSummary[]>('GET', base, { query: { filters: filters(p) } });
        list.sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
        if (bool(p, 'quiet')) return void write(list.map((o) => `${o.ID}\n`).join(''));
        const rows = list.map((o) => ({ ID: o.ID, Name: o.Spec.Name, CreatedAt: ago(Date.parse(o.CreatedAt) / 1000), UpdatedAt: ago(Date.parse(o.UpdatedAt) / 1000), Labels: Object.entries(o.Spec.Labels).map(([k, v]) => `${k}=${v}`).join(',') }));
        write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}', rows, { ID: 'ID', Name: 'NAME', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' }));
      },
    },
    inspect: {
      flags: [f('format', 'string', 'f')], minArgs: 1, usage: `${kind} inspect [OPTIONS] ${kind.toUpperCase()} [${kind.toUpperCase()}...]`,
      run: (api, p) => inspectEach(api, p, (r) => `${base}/${r}`),
    },
    rm: { flags: [], minArgs: 1, usage: `${kind} rm ${kind.toUpperCase()} [${kind.toUpperCase()}...]`, run: (api, p) => each(p.args, async (r) => { await api.call('DELETE', `${base}/${encodeURIComponent(r)}`); write(`${r}\n`); }) },
  };
}

export const objectGroups: Record<string, Record<string, Command>> = { secret: objectCommands('secret'), config: objectCommands('config') };
