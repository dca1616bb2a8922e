import * as path from 'node:path';
import { invalidArgument } from '../../base/errors';
import type { Mount } from '../../oci/runtime-spec';
import type { HostConfig, MountPoint } from '../model';

const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function bad(spec: string, why: string): never {
  throw invalidArgument(`invalid volume specification: '${spec}': ${why}`);
}

function checkTarget(spec: string, dst: string): string {
  if (!path.isAbsolute(dst)) bad(spec, 'invalid mount config for type "bind": invalid mount path: \'' + dst + "' mount path must be absolute");
  const clean = path.posix.normalize(dst);
  if (clean === '/') bad(spec, "destination can't be '/'");
  return clean;
}

/** One `-v` string: `/dst`, `name:/dst[:opts]` or `/src:/dst[:opts]`. */
export function parseBind(spec: string): MountPoint {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) bad(spec, 'invalid number of parts');
  if (parts.length === 1) {
    return { Type: 'volume', Source: '', Destination: checkTarget(spec, parts[0]), Mode: '', RW: true, Propagation: '', anonymous: true, Driver: 'local' };
  }
  const [src, dst, mode = ''] = parts;
  const opts = mode ? mode.split(',') : [];
  let rw = true;
  let propagation = '';
  let noCopy = false;
  for (const o of opts) {
    if (o === 'ro') rw = false;
    else if (o === 'rw') rw = true;
    else if (o === 'z' || o === 'Z') continue;
    else if (o === 'nocopy') noCopy = true;
    else if (PROPAGATIONS.includes(o)) propagation = o;
    else bad(spec, `invalid mode: ${o}`);
  }
  const Destination = checkTarget(spec, dst);
  if (path.isAbsolute(src)) {
    return { Type: 'bind', Source: path.normalize(src), Destination, Mode: mode, RW: rw, Propagation: propagation || 'rprivate' };
  }
  if (!VOLUME_NAME.test(src))
    throw invalidArgument(`create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  return { Type: 'volume', Name: src, Source: '', Destination, Mode: mode, RW: rw, Propagation: '', Driver: 'local', noCopy };
}

/**
 * All mounts of a new container from -v, --mount, --tmpfs and the image's
 * VOLUMEs (anonymous volumes where nothing else is mounted), docker's way.
 */
export function planMounts(h: HostConfig, imageVolumes: Record<string, object> | undefined): MountPoint[] {
  const out: MountPoint[] = [];
  const add = (m: MountPoint) => {
    if (out.some((x) => x.Destination === m.Destination)) throw invalidArgument(`Duplicate mount point: ${m.Destination}`);
    out.push(m);
  };
  for (const b of h.Binds ?? []) add(parseBind(b));
  for (const m of h.Mounts ?? []) {
    const spec = `${m.Type}:${m.Source ?? ''}:${m.Target}`;
    const Destination = checkTarget(spec, m.Target ?? '');
    if (m.Type === 'bind') {
      if (!m.Source || !path.isAbsolute(m.Source)) throw invalidArgument(`invalid mount config for type "bind": invalid mount path: '${m.Source ?? ''}' mount path must be absolute`);
      add({ Type: 'bind', Source: m.Source, Destination, Mode: '', RW: !m.ReadOnly, Propagation: m.BindOptions?.Propagation || 'rprivate' });
    } else if (m.Type === 'volume') {
      add({ Type: 'volume', Name: m.Source || undefined, Source: '', Destination, Mode: '', RW: !m.ReadOnly, Propagation: '', Driver: 'local', anonymous: !m.Source, noCopy: m.VolumeOptions?.NoCopy });
    } else if (m.Type === 'tmpfs') {
      const o: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) o.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) o.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      add({ Type: 'tmpfs', Source: '', Destination, Mode: '', RW: !m.ReadOnly, Propagation: '', tmpfsOptions: o });
    } else throw invalidArgument(`mount type unknown: ${String((m as { Type: unknown }).Type)}`);
  }
  for (const [dst, opts] of Object.entries(h.Tmpfs ?? {})) {
    add({ Type: 'tmpfs', Source: '', Destination: checkTarget(dst, dst), Mode: '', RW: true, Propagation: '', tmpfsOptions: opts ? opts.split(',') : [] });
  }
  for (const dst of Object.keys(imageVolumes ?? {})) {
    const d = path.posix.normalize(dst);
    if (!out.some((m) => m.Destination === d)) add({ Type: 'volume', Source: '', Destination: d, Mode: '', RW: true, Propagation: '', Driver: 'local', anonymous: true });
  }
  return out;
}

/** The runtime mounts for a container's mount points (sources already resolved). */
export function runtimeMounts(mounts: MountPoint[]): Mount[] {
  return mounts.map((m) => {
    if (m.Type === 'tmpfs') {
      const opts = m.tmpfsOptions ?? [];
      const defaults = ['noexec', 'nosuid', 'nodev'].filter((d) => !opts.some((o) => o === d || o === d.replace('no', '')));
      return { destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: [...defaults, ...opts, ...(m.RW ? [] : ['ro'])] };
    }
    return {
      destination: m.Destination, type: 'bind', source: m.Source,
      options: ['rbind', m.Propagation || 'rprivate', ...(m.RW ? [] : ['ro'])],
    };
  });
}
