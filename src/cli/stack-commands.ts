// berth stack: a compose file deployed to the cluster as services (docker stack's commands, on Berth's compose loader).
import { invalidArgument } from '../base/errors';
import { loadProject } from '../compose/spec/load';
import { deployStack, removeStack, STACK_LABEL } from '../compose/stack';
import { type Command, f, FILTER, FORMAT, write } from './command';
import { clusterGroups } from './cluster-commands';
import { bool, list, str } from './flags';
import { renderFormat } from './template';

interface ServiceSummary { ID: string; Spec: { Name: string; Labels: Record<string, string> } }


const stackCmds: Record<string, Command> = {
  deploy: {
    flags: [f('compose-file', 'list', 'c'), f('prune'), f('resolve-image', 'string'), f('with-registry-auth')], minArgs: 1, maxArgs: 1, usage: 'stack deploy [OPTIONS] STACK',
    run: async (api, p) => {
      const files = list(p, 'compose-file');
      if (!files.length) throw invalidArgument('Please specify only one compose file (with --compose-file), or more than one for compose\'s merge rules');
      const resolve = str(p, 'resolve-image') ?? 'always';
      if (!['always', 'changed', 'never'].includes(resolve)) throw invalidArgument(`invalid option ${resolve} for flag --resolve-image`);
      // The stack's name is the project's: its networks, volumes, secrets and configs are named STACK_KEY, as docker stack's.
      const project = loadProject({ files, projectName: p.args[0], env: process.env as Record<string, string>, cwd: process.cwd() });
      await deployStack(api, project, { prune: bool(p, 'prune') }, (line) => write(`${line}\n`));
    },
  },
  ls: {
    flags: [FORMAT], maxArgs: 0, usage: 'stack ls [OPTIONS]',
    run: async (api, p) => {
      const services = await api.json<ServiceSummary[]>('GET', '/services', { query: { filters: JSON.stringify({ label: [STACK_LABEL] }) } });
      const counts = new Map<string, number>();
      for (const s of services) counts.set(s.Spec.Labels[STACK_LABEL], (counts.get(s.Spec.Labels[STACK_LABEL]) ?? 0) + 1);
      const rows = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([Name, n]) => ({ Name, Services: String(n), Orchestrator: 'Swarm' }));
      write(renderFormat(str(p, 'format') ?? 'table {{.Name}}\t{{.Services}}', rows, { Name: 'NAME', Services: 'SERVICES', Orchestrator: 'ORCHESTRATOR' }));
    },
  },
  services: {
    flags: [f('quiet', 'bool', 'q'), FILTER, FORMAT], minArgs: 1, maxArgs: 1, usage: 'stack services [OPTIONS] STACK',
    run: (api, p) => clusterGroups.service.ls.run(api, { args: [], flags: { ...p.flags, filter: [`label=${STACK_LABEL}=${p.args[0]}`, ...list(p, 'filter')] } }),
  },
  ps: {
    flags: [f('quiet', 'bool', 'q'), f('no-trunc'), FILTER, FORMAT], minArgs: 1, maxArgs: 1, usage: 'stack ps [OPTIONS] STACK',
    run: async (api, p) => {
      const services = await api.json<ServiceSummary[]>('GET', '/services', { query: { filters: JSON.stringify({ label: [`${STACK_LABEL}=${p.args[0]}`] }) } });
      if (!services.length) throw invalidArgument(`nothing found in stack: ${p.args[0]}`);
      return clusterGroups.service.ps.run(api, { ...p, args: services.map((s) => s.Spec.Name) });
    },
  },
  rm: {
    flags: [], minArgs: 1, usage: 'stack rm STACK [STACK...]',
    run: async (api, p) => {
      let rc = 0;
      for (const name of p.args) {
        const found = await removeStack(api, name, (line) => write(`${line}\n`));
        if (!found) {
          process.stderr.write(`Nothing found in stack: ${name}\n`);
          rc = 1;
        }
      }
      return rc;
    },
  },
};

export const stackGroups: Record<string, Record<string, Command>> = { stack: stackCmds };
