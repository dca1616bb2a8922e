import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidArgument } from '../base/errors';

/**
 * Runs GNU tar: `input` feeds its stdin (an archive to unpack, or a list of
 * names with -T -); its stdout is returned when it writes an archive.
 */
export function tar(args: string[], input?: Readable, output = !input): { done: Promise<void>; stdout: Readable | null } {
  const child = spawn('tar', args, { stdio: [input ? 'pipe' : 'ignore', output ? 'pipe' : 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  if (input) void pipeline(input, child.stdin!).catch(() => {});
  const done = new Promise<void>((resolve, reject) =>
    child.once('close', (code) => (code === 0 ? resolve() : reject(invalidArgument(`tar: ${err.trim() || `exit ${code}`}`)))),
  );
  return { done, stdout: child.stdout };
}
