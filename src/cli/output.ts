import { humanDuration } from '../base/duration';

/** docker's human sizes: 3 significant digits, decimal units (1.99MB). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Binary sizes for memory columns (2.5MiB). */
export function binarySize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(i === 0 ? 0 : 3).replace(/\.?0+$/, '')) || 0}${units[i]}`;
}

export function ago(unixSeconds: number, now = Date.now()): string {
  return `${humanDuration(now - unixSeconds * 1000)} ago`;
}

/** docker's quoted, 20-character Command column. */
export function shortCommand(cmd: string, noTrunc: boolean): string {
  if (noTrunc) return JSON.stringify(cmd);
  const t = cmd.length > 20 ? cmd.slice(0, 19) + '…' : cmd;
  return JSON.stringify(t);
}

/** The daemon's warnings (a discarded option, say), as the docker CLI prints them: on stderr. */
export function warn(warnings: string[] | null | undefined): void {
  for (const w of warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
}
