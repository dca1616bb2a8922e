import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { BerthError, invalidArgument, isErrno } from '../base/errors';
import { MNT_DETACH, umount } from '../base/linux';
import { mountPoints } from '../base/procs';
import { hostPlatform, type ImageConfig } from '../oci/image';
import { normalize, parseReference } from '../oci/reference';
import { packLayer } from '../snapshots/diff';
import { createImage } from './importer';
import type { ImageRecord, ImageStore } from './store';
import { readdirIfExists } from '../base/files';

export interface BootstrapOptions {
  /** The image's name, e.g. `debian:bookworm`. */
  name: string;
  /** The Debian suite; by default the name's tag (bookworm when it is latest). */
  suite?: string;
  mirror?: string;
  variant?: string;
  include?: string[];
}

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What debootstrap is run with: pure, so the choices are plain to see and test. */
export function debootstrapArgs(o: BootstrapOptions, target: string): { suite: string; argv: string[] } {
  const tag = parseReference(o.name).tag;
  const suite = o.suite || (tag && tag !== 'latest' ? tag : 'bookworm');
  if (!/^[a-z][a-z0-9.-]*$/.test(suite)) throw invalidArgument(`invalid suite: ${suite}`);
  const variant = o.variant || 'minbase';
  if (!['minbase', 'buildd', 'fakechroot', '-'].includes(variant)) throw invalidArgument(`invalid variant: ${variant}`);
  const mirror = o.mirror || DEFAULT_MIRROR;
  if (!/^(https?|file):\/\//.test(mirror)) throw invalidArgument(`invalid mirror: ${mirror}`);
  const include = (o.include ?? []).filter(Boolean);
  if (include.some((p) => !/^[a-z0-9][a-z0-9+.-]*$/.test(p))) throw invalidArgument(`invalid package name in --include: ${include.join(',')}`);
  const argv = [`--variant=${variant}`, ...(include.length ? [`--include=${include.join(',')}`] : []), suite, target, mirror];
  return { suite, argv };
}

/**
 * `image bootstrap`: a Debian root filesystem made by debootstrap from a
 * mirror, trimmed as docker's debian images are (no package lists or
 * downloaded packages, no host name or resolver of the host), as a
 * one-layer image. `work` is a scratch folder the caller removes.
 */
export async function bootstrapDebian(images: ImageStore, work: string, o: BootstrapOptions, progress: (line: string) => void): Promise<ImageRecord> {
  const name = normalize(o.name);
  const target = path.join(work, 'rootfs');
  const { suite, argv } = debootstrapArgs(o, target);
  await fsp.mkdir(work, { recursive: true, mode: 0o700 });
  try {
    await runDebootstrap(argv, progress);
  } finally {
    // debootstrap mounts /proc and /sys in the target and may leave them after a failure.
    for (const m of mountPoints().filter((p) => p.startsWith(target + '/')).reverse()) {
      try {
        umount(m, MNT_DETACH);
      } catch {
        /* gone already */
      }
    }
  }
  for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    const dir = path.join(target, junk);
    for (const f of await readdirIfExists(dir)) if (f !== 'partial' && f !== 'lock') await fsp.rm(path.join(dir, f), { recursive: true, force: true });
  }
  await fsp.rm(path.join(target, 'etc/hostname'), { force: true });
  await fsp.writeFile(path.join(target, 'etc/resolv.conf'), '');
  progress('Packing the root filesystem as a layer\n');
  return images.gate.shared(async () => {
    const layer = await images.content.ingest(packLayer(target));
    const now = new Date().toISOString();
    const config: ImageConfig = {
      ...hostPlatform(),
      created: now,
      config: { Env: [PATH], Cmd: ['bash'] },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created: now, created_by: `debootstrap ${argv.filter((a) => a !== target).join(' ')}`, comment: `Debian ${suite}, bootstrapped by Berth` }],
    };
    return createImage(images, config, [layer], [name]);
  });
}

function runDebootstrap(argv: string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('debootstrap', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    for (const s of [p.stdout, p.stderr]) {
      readline.createInterface({ input: s }).on('line', (l) => {
        tail.push(l);
        if (tail.length > 5) tail.shift();
        progress(l + '\n');
      });
    }
    p.on('error', (e) => reject(isErrno(e, 'ENOENT') ? new BerthError('unavailable', 'debootstrap is not installed (apt-get install debootstrap)') : e));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new BerthError('internal', `debootstrap failed (exit ${code}): ${tail.join(' | ')}`))));
  });
}
