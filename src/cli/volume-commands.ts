import { bool, list, str } from './flags';
import { renderFormat } from './template';
import { type Command, each, f, FILTER, filters, FORMAT, inspect, PRUNE_FILTER, reportPrune, write } from './command';

interface VolumeSummary { Name: string; Driver: string; Labels: Record<string, string>; Mountpoint: string }

export const volumeCmds: Record<string, Command> = {
  create: {
    flags: [f('driver', 'string', 'd'), f('label', 'list'), f('opt', 'list', 'o'), f('name', 'string')], usage: 'volume create [OPTIONS] [VOLUME]',
    run: async (api, p) => {
      const labels = Object.fromEntries(list(p, 'label').map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
      const v = await api.json<{ Name: string }>('POST', '/volumes/create', { body: { Name: p.args[0] ?? str(p, 'name') ?? '', Driver: str(p, 'driver') ?? 'local', Labels: labels, DriverOpts: Object.fromEntries(list(p, 'opt').map((l) => l.split('='))) } });
      write(v.Name + '\n');
    },
  },
  ls: {
    flags: [f('quiet', 'bool', 'q'), FILTER, FORMAT], usage: 'volume ls [OPTIONS]',
    run: async (api, p) => {
      const r = await api.json<{ Volumes: VolumeSummary[] }>('GET', '/volumes', { query: { filters: filters(p) } });
      if (bool(p, 'quiet')) return void write(r.Volumes.map((v) => v.Name + '\n').join(''));
      write(renderFormat(str(p, 'format') ?? 'table {{.Driver}}\t{{.Name}}', r.Volumes, { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT' }));
    },
  },
  inspect: { flags: [f('format', 'string', 'f')], minArgs: 1, usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]', run: (api, p) => inspect(api, p, ['volume']) },
  rm: { flags: [f('force', 'bool', 'f')], minArgs: 1, usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]', run: (api, p) => each(p.args, async (n) => { await api.call('DELETE', `/volumes/${encodeURIComponent(n)}`, { query: { force: bool(p, 'force') } }); write(n + '\n'); }) },
  prune: {
    flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), PRUNE_FILTER], usage: 'volume prune [OPTIONS]',
    run: async (api, p) => {
      const fl = JSON.parse(filters(p) ?? '{}');
      // docker 23's meaning of the flag, said explicitly (API 1.41 alone would prune named volumes too).
      fl.all = [bool(p, 'all') ? 'true' : 'false'];
      const r = await api.json<{ VolumesDeleted: string[]; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters: JSON.stringify(fl) } });
      reportPrune('Deleted Volumes', r.VolumesDeleted ?? [], r.SpaceReclaimed);
    },
  },
};
