import * as net from 'node:net';
import { exitStatus, spawnPiped } from './linux';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(`${argv.join(' ')}: ${stderr.trim() || `exit ${exitCode}`}`);
    this.name = 'CommandError';
  }
}

/** What a program may print before it is stopped as runaway. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/**
 * Runs a program to completion and returns its output; rejects with
 * CommandError on a non-zero exit, a signal, the timeout (SIGTERM then), or
 * output beyond 64 MiB. Spawned with posix_spawn: Node's spawn forks the
 * daemon, copying its page tables on the event loop (about 1 ms for a daemon
 * of 100 MB, more under load), and a container's start runs a dozen programs.
 */
export async function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  const argv = [file, ...args];
  let child: { pid: number; fds: number[] };
  try {
    child = await spawnPiped(file, argv, opts.env ?? process.env, opts.input !== undefined ? 'rww' : '-ww');
  } catch (e) {
    throw new CommandError(argv, null, (e as Error).message);
  }
  const { pid, fds } = child;
  let why = '';
  const stop = (reason: string) => {
    why ||= reason;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone: its exit is what counts.
    }
  };
  const timer = opts.timeoutMs ? setTimeout(() => stop(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs) : undefined;
  if (opts.input !== undefined) {
    const stdin = new net.Socket({ fd: fds[0], readable: false, writable: true });
    stdin.on('error', () => {
      // A program that exits without reading all of it: EPIPE here, and its exit status tells.
    });
    stdin.end(opts.input);
  }
  const [stdout, stderr] = await Promise.all([readAll(fds[1], stop), readAll(fds[2], stop)]);
  const status = await reaped(pid);
  clearTimeout(timer);
  if (status.code === 0 && !why) return { stdout, stderr };
  // The program's own words where it has any; a timeout or a runaway is said as well.
  const text = why ? [why, stderr.trim()].filter(Boolean).join(': ') : stderr.trim() ? stderr : status.signal !== null ? `killed by signal ${status.signal}` : `exit ${status.code}`;
  throw new CommandError(argv, status.code, text, stdout);
}

/** A pipe's text to its end; past MAX_OUTPUT the program is stopped. */
function readAll(fd: number, stop: (reason: string) => void): Promise<string> {
  return new Promise((resolve) => {
    const s = new net.Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    let size = 0;
    s.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= MAX_OUTPUT) chunks.push(b);
      else {
        stop(`more than ${MAX_OUTPUT} bytes of output`);
        s.destroy();
      }
    });
    s.on('error', () => {
      // A read error ends the text as far as it came; the exit status tells the rest.
    });
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** The exit of a child whose output has ended: at once, mostly; a child still closing is asked again soon. */
async function reaped(pid: number): Promise<{ code: number | null; signal: number | null }> {
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const s = exitStatus(pid);
    if (s) return s;
    await new Promise((r) => setTimeout(r, wait));
  }
}
