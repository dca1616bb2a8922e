export async function runCli(argv: string[]): Promise<number> { process.stderr.write('not yet: ' + argv.join(' ') + '\n'); return 1; }
