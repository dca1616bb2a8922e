/** Entry point of `bin/berth`: `daemon` runs the daemon, everything else is a client command. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'daemon') {
    // The daemon is loaded only for this command, so client commands start fast.
    const { runDaemon } = require('../daemon/main') as typeof import('../daemon/main');
    await runDaemon(argv.slice(1));
    return -1;
  }
  const { runCli } = require('./commands') as typeof import('./commands');
  return runCli(argv);
}
