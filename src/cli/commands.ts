import { invalidArgument } from '../base/errors';
import { DaemonError } from '../client/client';
import { connect } from '../client/connect';
import { bootstrapImage } from './build';
import { bool, parseFlags, type Parsed, str } from './flags';
import { prefetch } from './registry';
import { type Command, f, inspect, write } from './command';
import { clusterGroups } from './cluster-commands';
import { compose } from './compose/index';
import { containerCmds, pruneContainers } from './container-commands';
import { imageCmds, pruneBuildCache, pruneImages } from './image-commands';
import { networkCmds } from './network-commands';
import { objectGroups } from './object-commands';
import { stackGroups } from './stack-commands';
import { systemCmds, systemSub } from './system-commands';
import { volumeCmds } from './volume-commands';

/** `berth container ls`, `berth image rm`, ... map to the top-level commands as docker's do. */
const groups: Record<string, Record<string, Command>> = {
  container: { ...containerCmds, ls: containerCmds.ps, list: containerCmds.ps, prune: pruneContainers, inspect: { ...containerCmds.inspect, run: (api, p) => inspect(api, p, ['container']) } },
  image: {
    bootstrap: { flags: [f('suite', 'string'), f('mirror', 'string'), f('variant', 'string'), f('include', 'list'), f('quiet', 'bool', 'q')], minArgs: 1, maxArgs: 1, usage: 'image bootstrap [OPTIONS] NAME[:TAG]', run: bootstrapImage },
    build: imageCmds.build,
    ls: imageCmds.images, list: imageCmds.images, pull: imageCmds.pull, push: imageCmds.push, prefetch: { flags: [f('platform', 'string'), f('nodes', 'string')], minArgs: 1, maxArgs: 1, usage: 'image prefetch [--platform os/arch] [--nodes all|KEY=VALUE] IMAGE', run: prefetch }, rm: imageCmds.rmi, tag: imageCmds.tag, import: imageCmds.import, load: imageCmds.load, save: imageCmds.save, history: imageCmds.history, prune: pruneImages, inspect: { ...containerCmds.inspect, run: (api, p) => inspect(api, p, ['image']) } },
  builder: { build: imageCmds.build, prune: pruneBuildCache },
  volume: volumeCmds,
  network: networkCmds,
  system: systemSub,
  ...clusterGroups,
  ...objectGroups,
  ...stackGroups,
};

const topLevel: Record<string, Command> = { ...containerCmds, ...imageCmds, ...systemCmds, compose };

const GLOBAL = [f('host', 'string', 'H'), f('debug', 'bool', 'D'), f('log-level', 'string', 'l')];

function usage(): string {
  const names = [...Object.keys(topLevel), ...Object.keys(groups), 'daemon', 'lab', 'registry'].sort();
  return `Usage:  berth [OPTIONS] COMMAND\n\nA container platform that speaks docker's language.\n\nCommands:\n${names.map((n) => `  ${n}`).join('\n')}\n\nRun 'berth COMMAND --help' for more information on a command.\n`;
}

/** Runs a client command; returns the process exit code (125 for daemon errors, as docker). */
export async function runCli(argv: string[]): Promise<number> {
  // Global flags come before the command.
  let i = 0;
  const global: string[] = [];
  while (i < argv.length && argv[i].startsWith('-')) {
    global.push(argv[i]);
    if (['-H', '--host', '-l', '--log-level'].includes(argv[i])) global.push(argv[++i]);
    i++;
  }
  const g = parseFlags(global, [...GLOBAL, f('version', 'bool', 'v'), f('help')], { command: '' });
  if (bool(g, 'version')) argv = ['version', ...argv.slice(i)];
  else argv = argv.slice(i);
  const [name, ...rest] = argv;
  if (!name || name === 'help' || bool(g, 'help')) {
    write(usage());
    return name ? 0 : 1;
  }
  let cmd = topLevel[name];
  let args = rest;
  let label = name;
  if (groups[name]) {
    const sub = rest[0];
    cmd = groups[name][sub];
    args = rest.slice(1);
    label = `${name} ${sub}`;
    if (!sub || !cmd) {
      process.stderr.write(`berth: '${name} ${sub ?? ''}' is not a berth command.\nSee 'berth ${name} --help'.\n`);
      return 1;
    }
  }
  if (!cmd) {
    process.stderr.write(`berth: '${name}' is not a berth command.\nSee 'berth --help'\n`);
    return 1;
  }
  if (args.includes('--help') && !cmd.stopAtFirstArg) {
    write(`Usage:  berth ${cmd.usage}\n\nOptions:\n${cmd.flags.map((x) => `  ${x.short ? `-${x.short}, ` : '    '}--${x.name}${x.kind === 'bool' ? '' : ` ${x.kind}`}`).join('\n')}\n`);
    return 0;
  }
  let parsed: Parsed;
  try {
    parsed = parseFlags(args, cmd.flags, { stopAtFirstArg: cmd.stopAtFirstArg, command: label });
    if ((cmd.minArgs ?? 0) > parsed.args.length) {
      throw invalidArgument(`"berth ${label}" requires at least ${cmd.minArgs} argument${cmd.minArgs === 1 ? '' : 's'}.\nSee 'berth ${label} --help'.\n\nUsage:  berth ${cmd.usage}`);
    }
    if (cmd.maxArgs !== undefined && parsed.args.length > cmd.maxArgs) {
      throw invalidArgument(`"berth ${label}" accepts at most ${cmd.maxArgs} argument${cmd.maxArgs === 1 ? '' : 's'}.\nSee 'berth ${label} --help'.\n\nUsage:  berth ${cmd.usage}`);
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 125;
  }
  try {
    const api = await connect(str(g, 'host'));
    const rc = await cmd.run(api, parsed);
    return typeof rc === 'number' ? rc : 0;
  } catch (e) {
    const msg = (e as Error).message;
    process.stderr.write(e instanceof DaemonError ? `Error response from daemon: ${msg}\n` : `Error: ${msg}\n`);
    return ['run', 'create'].includes(name) || (name === 'container' && ['run', 'create'].includes(rest[0])) ? 125 : 1;
  }
}
