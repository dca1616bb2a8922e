import { invalidArgument } from '../base/errors';
import { bool, list, str } from './flags';
import { renderFormat } from './template';
import { type Command, each, f, FILTER, filters, FORMAT, inspect, keyValueList, PRUNE_FILTER, write } from './command';

interface NetworkSummary { Name: string; Id: string; Driver: string; Scope: string; Created: string; Internal: boolean; EnableIPv6?: boolean; Labels: Record<string, string>; IPAM: { Config: { Subnet: string }[] } }

/**
 * docker's --subnet, --gateway and --ip-range lists as IPAM configs: a
 * gateway or range belongs to the subnet of its family (a network has one
 * of each); the daemon checks that it lies inside.
 */
function ipamConfig(subnets: string[], gateways: string[], ranges: string[]): { Subnet?: string; Gateway?: string; IPRange?: string }[] {
  const v6 = (s: string) => s.includes(':');
  const out = subnets.map((Subnet) => ({ Subnet, Gateway: gateways.find((g) => v6(g) === v6(Subnet)), IPRange: ranges.find((r) => v6(r) === v6(Subnet)) }));
  for (const g of gateways) if (!out.some((c) => c.Gateway === g)) throw invalidArgument(`no matching subnet for gateway ${g}`);
  for (const r of ranges) if (!out.some((c) => c.IPRange === r)) throw invalidArgument(`no matching subnet for range ${r}`);
  return out;
}

export const networkCmds: Record<string, Command> = {
  create: {
    flags: [f('driver', 'string', 'd'), f('subnet', 'list'), f('gateway', 'list'), f('ip-range', 'list'), f('internal'), f('attachable'), f('label', 'list'), f('opt', 'list', 'o'), f('ipv6')],
    minArgs: 1, usage: 'network create [OPTIONS] NETWORK',
    run: async (api, p) => {
      const config = ipamConfig(list(p, 'subnet'), list(p, 'gateway'), list(p, 'ip-range'));
      const r = await api.json<{ Id: string }>('POST', '/networks/create', {
        body: {
          Name: p.args[0], Driver: str(p, 'driver') ?? 'bridge', Internal: bool(p, 'internal'), Attachable: bool(p, 'attachable'), EnableIPv6: bool(p, 'ipv6'),
          IPAM: { Driver: 'default', Config: config }, Labels: keyValueList(list(p, 'label')), Options: keyValueList(list(p, 'opt')), CheckDuplicate: true,
        },
      });
      write(r.Id + '\n');
    },
  },
  ls: {
    flags: [f('quiet', 'bool', 'q'), f('no-trunc'), FILTER, FORMAT], usage: 'network ls [OPTIONS]',
    run: async (api, p) => {
      const nets = await api.json<NetworkSummary[]>('GET', '/networks', { query: { filters: filters(p) } });
      const id = (x: string) => (bool(p, 'no-trunc') ? x : x.slice(0, 12));
      if (bool(p, 'quiet')) return void write(nets.map((n) => id(n.Id) + '\n').join(''));
      const rows = nets.map((n) => ({ ID: id(n.Id), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: String(n.Internal), CreatedAt: n.Created, Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','), IPv6: String(!!n.EnableIPv6) }));
      write(renderFormat(str(p, 'format') ?? 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', rows, { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Internal: 'INTERNAL', CreatedAt: 'CREATED AT', Labels: 'LABELS', IPv6: 'IPV6' }));
    },
  },
  inspect: { flags: [f('format', 'string', 'f')], minArgs: 1, usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]', run: (api, p) => inspect(api, p, ['network']) },
  rm: { flags: [f('force', 'bool', 'f')], minArgs: 1, usage: 'network rm NETWORK [NETWORK...]', run: (api, p) => each(p.args, async (n) => { await api.call('DELETE', `/networks/${encodeURIComponent(n)}`); write(n + '\n'); }) },
  prune: {
    flags: [f('force', 'bool', 'f'), PRUNE_FILTER], usage: 'network prune [OPTIONS]',
    run: async (api, p) => {
      const r = await api.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: filters(p) } });
      if (r.NetworksDeleted?.length) write(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}\n`);
    },
  },
  connect: {
    flags: [f('alias', 'list'), f('ip', 'string'), f('ip6', 'string')], minArgs: 2, usage: 'network connect [OPTIONS] NETWORK CONTAINER',
    run: async (api, p) => {
      const ep: Record<string, unknown> = {};
      if (list(p, 'alias').length) ep.Aliases = list(p, 'alias');
      if (str(p, 'ip') || str(p, 'ip6')) ep.IPAMConfig = { IPv4Address: str(p, 'ip'), IPv6Address: str(p, 'ip6') };
      await api.call('POST', `/networks/${encodeURIComponent(p.args[0])}/connect`, { body: { Container: p.args[1], EndpointConfig: ep } });
    },
  },
  disconnect: {
    flags: [f('force', 'bool', 'f')], minArgs: 2, usage: 'network disconnect [OPTIONS] NETWORK CONTAINER',
    run: async (api, p) => void (await api.call('POST', `/networks/${encodeURIComponent(p.args[0])}/disconnect`, { body: { Container: p.args[1], Force: bool(p, 'force') } })),
  },
};
