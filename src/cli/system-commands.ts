import { bool, str } from './flags';
import { binarySize, humanSize } from './output';
import { compileTemplate, renderFormat } from './template';
import { type Command, f, FILTER, filters, FORMAT, write } from './command';
import { pruneContainers } from './container-commands';
import { pruneImages } from './image-commands';
import { volumeCmds } from './volume-commands';

export const systemCmds: Record<string, Command> = {
  version: {
    flags: [FORMAT, f('format', 'string', 'f')], usage: 'version',
    run: async (api, p) => {
      const v = await api.json<{ Version: string; ApiVersion: string; Os: string; Arch: string; GoVersion: string }>('GET', '/version');
      const format = str(p, 'format');
      if (format) return void write(compileTemplate(format).execute({ Client: { Version: v.Version }, Server: v }) + '\n');
      write(`Client:\n Version:     ${v.Version}\n API version: ${v.ApiVersion}\n\nServer: Berth\n Engine:\n  Version:     ${v.Version}\n  API version: ${v.ApiVersion}\n  Runtime:     ${v.GoVersion}\n  OS/Arch:     ${v.Os}/${v.Arch}\n`);
    },
  },
  info: {
    flags: [FORMAT, f('format', 'string', 'f')], usage: 'info',
    run: async (api, p) => {
      const i = await api.json<Record<string, unknown>>('GET', '/info');
      const format = str(p, 'format');
      if (format) return void write(compileTemplate(format).execute(i) + '\n');
      const keys = ['Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'ServerVersion', 'Driver', 'LoggingDriver', 'CgroupDriver', 'CgroupVersion', 'DefaultRuntime', 'KernelVersion', 'OperatingSystem', 'NCPU', 'MemTotal', 'DockerRootDir'];
      write(keys.map((k) => ` ${k}: ${k === 'MemTotal' ? binarySize(i[k] as number) : String(i[k])}\n`).join(''));
      // As the docker CLI: what the host lacks, on stderr after the rest.
      for (const w of (i.Warnings as string[] | null) ?? []) process.stderr.write(`${w}\n`);
    },
  },
  events: {
    flags: [f('since', 'string'), f('until', 'string'), FILTER, FORMAT], usage: 'events [OPTIONS]',
    run: async (api, p) => {
      const format = str(p, 'format');
      const tpl = format ? compileTemplate(format) : undefined;
      for await (const e of api.jsonLines<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number }>('GET', '/events', { query: { since: str(p, 'since'), until: str(p, 'until'), filters: filters(p) } })) {
        if (tpl) write(tpl.execute(e) + '\n');
        else {
          const t = new Date(e.timeNano / 1e6).toISOString().replace('Z', '') + String(e.timeNano % 1e6).padStart(6, '0').slice(0, 6) + 'Z';
          const attrs = Object.entries(e.Actor.Attributes).sort().map(([k, v]) => `${k}=${v}`).join(', ');
          write(`${t} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`);
        }
      }
    },
  },
};

export const systemSub: Record<string, Command> = {
  df: {
    flags: [f('verbose', 'bool', 'v'), FORMAT], usage: 'system df',
    run: async (api) => {
      const d = await api.json<{ LayersSize: number; Images: { Containers: number; Size: number }[]; Containers: { State: string; SizeRw: number }[]; Volumes: { UsageData: { Size: number; RefCount: number } }[] }>('GET', '/system/df');
      const rows = [
        { Type: 'Images', TotalCount: d.Images.length, Active: d.Images.filter((i) => i.Containers > 0).length, Size: humanSize(d.LayersSize), Reclaimable: humanSize(d.Images.filter((i) => !i.Containers).reduce((a, i) => a + i.Size, 0)) },
        { Type: 'Containers', TotalCount: d.Containers.length, Active: d.Containers.filter((c) => c.State === 'running').length, Size: humanSize(d.Containers.reduce((a, c) => a + c.SizeRw, 0)), Reclaimable: humanSize(d.Containers.filter((c) => c.State !== 'running').reduce((a, c) => a + c.SizeRw, 0)) },
        { Type: 'Local Volumes', TotalCount: d.Volumes.length, Active: d.Volumes.filter((v) => v.UsageData.RefCount > 0).length, Size: humanSize(d.Volumes.reduce((a, v) => a + v.UsageData.Size, 0)), Reclaimable: humanSize(d.Volumes.filter((v) => !v.UsageData.RefCount).reduce((a, v) => a + v.UsageData.Size, 0)) },
        { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: '0B', Reclaimable: '0B' },
      ];
      write(renderFormat('table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', rows, { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' }));
    },
  },
  prune: {
    flags: [f('force', 'bool', 'f'), f('all', 'bool', 'a'), f('volumes')], usage: 'system prune [OPTIONS]',
    run: async (api, p) => {
      await pruneContainers.run(api, p);
      if (bool(p, 'volumes')) await volumeCmds.prune.run(api, { ...p, flags: { ...p.flags, filter: [] } });
      await pruneImages.run(api, p);
    },
  },
  check: {
    flags: [f('repair', 'bool'), f('verbose', 'bool', 'v')], usage: 'system check [OPTIONS]',
    run: async (api, p) => {
      const repair = bool(p, 'repair');
      const r = await api.json<{ Problems: { Kind: string; Subject: string; Detail: string; Repaired?: boolean; Error?: string }[]; Host?: { Area: string; Item: string; On: boolean; Detail: string }[] }>('POST', '/berth/system/check', { query: { repair } });
      // The host's parts: with -v all of them in a table; else what is off, on stderr as info's warnings are.
      const host = r.Host ?? [];
      if (bool(p, 'verbose')) {
        write(renderFormat('table {{.Area}}\t{{.Item}}\t{{.State}}\t{{.Detail}}', host.map((h) => ({ ...h, State: h.On ? 'on' : 'off' })), { Area: 'HOST', Item: 'PART', State: 'STATE', Detail: 'DETAIL' }));
        write('\n');
      } else for (const h of host.filter((x) => !x.On)) process.stderr.write(`WARNING: ${h.Area} ${h.Item} is off${h.Detail ? `: ${h.Detail}` : ''}\n`);
      if (!r.Problems.length) return void write('No problems found.\n');
      const rows = r.Problems.map((x) => ({ ...x, Status: !repair ? 'found' : x.Repaired ? 'repaired' : `not repaired: ${x.Error}` }));
      write(renderFormat('table {{.Kind}}\t{{.Subject}}\t{{.Detail}}\t{{.Status}}', rows, { Kind: 'KIND', Subject: 'SUBJECT', Detail: 'DETAIL', Status: 'STATUS' }));
      // Scripts can tell a clean system (0) from one with problems left (1).
      return r.Problems.every((x) => x.Repaired) ? 0 : 1;
    },
  },
  info: systemCmds.info,
  events: systemCmds.events,
};
