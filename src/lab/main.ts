import { BerthError, errorMessage, invalidArgument } from '../base/errors';
import { f } from '../cli/command';
import { list, parseFlags, str } from '../cli/flags';
import { tabulate } from '../cli/template';
import { type LabRecord, Labs } from './lab';

const USAGE = `Usage:  berth lab COMMAND

A cluster of Berth daemons on this host, each node a network namespace (for trying the cluster, and for tests).

Commands:
  up --name NAME --nodes N [--managers M] [--load IMAGE.tar]...   make it, start its daemons, form the cluster
  ls [NAME]                       the labs, or a lab's nodes: name, role, namespace, address, API socket, state
  env NAME                        the exports that point the berth and docker CLIs at a manager
  kill NAME NODE                  a crash: link down, daemon, conmons and containers SIGKILLed
  start NAME NODE                 a killed node starts again
  partition NAME NODE             cuts the node's link
  heal NAME NODE                  restores it
  down NAME                       removes everything of the lab
`;

/** `berth lab ...`: runs as root on this host, without a daemon of its own. */
export async function runLab(argv: string[], labs = new Labs()): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  try {
    if (process.getuid?.() !== 0) throw new BerthError('forbidden', 'berth lab makes network namespaces and runs daemons: run it as root');
    const args = (n: number, usage: string) => {
      const p = parseFlags(rest, [], { command: `lab ${cmd}` });
      if (p.args.length !== n) throw invalidArgument(`"berth lab ${cmd}" requires ${n} argument${n === 1 ? '' : 's'}.\n\nUsage:  berth lab ${usage}`);
      return p.args;
    };
    switch (cmd) {
      case 'up': {
        const p = parseFlags(rest, [f('name', 'string'), f('nodes', 'string'), f('managers', 'string'), f('load', 'list')], { command: 'lab up' });
        const name = str(p, 'name');
        if (!name) throw invalidArgument('berth lab up: --name is required');
        const rec = await labs.up({ name, nodes: Number(str(p, 'nodes') ?? 3), managers: Number(str(p, 'managers') ?? 1), load: list(p, 'load') });
        process.stdout.write(`${await table(labs, rec)}\n\n${env(rec)}`);
        return 0;
      }
      case 'ls': {
        const p = parseFlags(rest, [], { command: 'lab ls' });
        if (!p.args.length) {
          process.stdout.write(labs.list().map((n) => `${n}\n`).join(''));
          return 0;
        }
        process.stdout.write(`${await table(labs, await labs.get(p.args[0]))}\n`);
        return 0;
      }
      case 'env': {
        const [name] = args(1, 'env NAME');
        process.stdout.write(env(await labs.get(name)));
        return 0;
      }
      case 'kill':
      case 'start':
      case 'partition':
      case 'heal': {
        const [name, node] = args(2, `${cmd} NAME NODE`);
        if (cmd === 'kill') await labs.kill(name, node);
        else if (cmd === 'start') await labs.start(name, node);
        else await labs.cut(name, node, cmd === 'partition');
        return 0;
      }
      case 'down': {
        const [name] = args(1, 'down NAME');
        await labs.down(name);
        return 0;
      }
      default:
        process.stderr.write(`berth: 'lab ${cmd}' is not a berth command.\nSee 'berth lab --help'.\n`);
        return 1;
    }
  } catch (e) {
    process.stderr.write(`Error: ${errorMessage(e)}\n`);
    return 1;
  }
}

/** One line a node: its name, role, namespace, address, API socket and state (up, cut off, down). */
async function table(labs: Labs, rec: LabRecord): Promise<string> {
  const lines = ['NODE\tROLE\tNETNS\tADDRESS\tSOCKET\tSTATE'];
  for (const n of rec.nodes) {
    const state = n.pid === undefined ? 'down' : (await labs.linkUp(n)) ? 'up' : 'cut off';
    lines.push(`${n.name}\t${n.role}\t${n.netns}\t${n.ip}\tunix://${n.socket}\t${state}`);
  }
  return tabulate(lines);
}

/** Exports for a shell: the first manager that runs (else the first). */
function env(rec: LabRecord): string {
  const m = rec.nodes.find((n) => n.role === 'manager' && n.pid !== undefined) ?? rec.nodes[0];
  return `export BERTH_HOST=unix://${m.socket}\nexport DOCKER_HOST=unix://${m.socket}\n`;
}
