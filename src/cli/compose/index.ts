// `berth compose [OPTIONS] COMMAND`: docker compose v2's commands, on the Engine API.
import { invalidArgument } from '../../base/errors';
import { type Command, write } from '../command';
import { parseFlags } from '../flags';
import { build } from './build';
import { logs } from './logs';
import { attach, cp, exec, lifecycleCmds, pull, push, run, wait } from './ops';
import { type ComposeCommand, ComposeContext, PROJECT_FLAGS } from './project';
import { create, down, scale, up } from './up-down';
import { watch } from './watch';
import { config, events, graph, images, ls, port, ps, top, version } from './views';

const commands: Record<string, ComposeCommand> = { up, down, create, scale, version, ps, ls, logs, config, images, port, top, events, exec, run, pull, push, wait, attach, cp, watch, graph, build, ...lifecycleCmds };

function usage(): string {
  return `Usage:  berth compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications, as docker compose does.\n\nOptions:\n${PROJECT_FLAGS.map((x) => `  ${x.short ? `-${x.short}, ` : '    '}--${x.name}${x.kind === 'bool' ? '' : ` ${x.kind}`}`).join('\n')}\n\nCommands:\n${Object.keys(commands).sort().map((c) => `  ${c}`).join('\n')}\n`;
}

export const compose: Command = {
  flags: PROJECT_FLAGS,
  usage: 'compose [OPTIONS] COMMAND',
  stopAtFirstArg: true,
  run: async (api, global) => {
    const [name, ...rest] = global.args;
    if (!name || name === 'help') {
      write(usage());
      return name ? 0 : 1;
    }
    const cmd = commands[name];
    if (!cmd) throw invalidArgument(`unknown compose command: ${name}\nSee 'berth compose --help'.`);
    if (rest.includes('--help') && !cmd.stopAtFirstArg) {
      write(`Usage:  berth ${cmd.usage}\n\nOptions:\n${cmd.flags.map((x) => `  ${x.short ? `-${x.short}, ` : '    '}--${x.name}${x.kind === 'bool' ? '' : ` ${x.kind}`}`).join('\n')}\n`);
      return 0;
    }
    const p = parseFlags(rest, cmd.flags, { stopAtFirstArg: cmd.stopAtFirstArg, command: `compose ${name}` });
    if ((cmd.minArgs ?? 0) > p.args.length) throw invalidArgument(`"berth compose ${name}" requires at least ${cmd.minArgs} argument${cmd.minArgs === 1 ? '' : 's'}.\n\nUsage:  berth ${cmd.usage}`);
    return cmd.run(new ComposeContext(api, global), p);
  },
};
