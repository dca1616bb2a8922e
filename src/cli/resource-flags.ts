import { invalidArgument } from '../base/errors';

/** docker's RAMInBytes: 64m, 1g, 512k, 100b; binary units. */
export function ramInBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)i?b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid argument "${s}" for "${flag}" flag: invalid size: '${s}'`);
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.round(Number(m[1]) * mult[m[2].toLowerCase()]);
}

/** `/dev/sda:200` → path and value, with docker's checks of the two halves. */
function deviceAndValue(s: string, flag: string): [string, string] {
  const i = s.lastIndexOf(':');
  if (i < 0) throw invalidArgument(`invalid argument "${s}" for "${flag}" flag: bad format: ${s}`);
  const path = s.slice(0, i);
  if (!path.startsWith('/dev/')) throw invalidArgument(`invalid argument "${s}" for "${flag}" flag: bad format for device path: ${s}`);
  return [path, s.slice(i + 1)];
}

/** `--blkio-weight-device /dev/sda:200` (10 to 1000, or 0). */
export function parseWeightDevice(s: string): { Path: string; Weight: number } {
  const [Path, w] = deviceAndValue(s, '--blkio-weight-device');
  const Weight = Number(w);
  if (!/^\d+$/.test(w) || (Weight > 0 && Weight < 10) || Weight > 1000) throw invalidArgument(`invalid argument "${s}" for "--blkio-weight-device" flag: invalid weight for device: ${s}`);
  return { Path, Weight };
}

/** `--device-read-bps /dev/sda:1mb` (bytes per second, docker's size units). */
export function parseBpsDevice(s: string, flag: string): { Path: string; Rate: number } {
  const [Path, r] = deviceAndValue(s, flag);
  try {
    return { Path, Rate: ramInBytes(r, flag) };
  } catch {
    throw invalidArgument(`invalid argument "${s}" for "${flag}" flag: invalid rate for device: ${s}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
  }
}

/** `--device-read-iops /dev/sda:1000` (operations per second). */
export function parseIopsDevice(s: string, flag: string): { Path: string; Rate: number } {
  const [Path, r] = deviceAndValue(s, flag);
  if (!/^\d+$/.test(r)) throw invalidArgument(`invalid argument "${s}" for "${flag}" flag: invalid rate for device: ${s}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  return { Path, Rate: Number(r) };
}
