import { invalidArgument } from '../base/errors';
import type { ContainerConfig } from '../oci/image';

/**
 * Applies `--change` Dockerfile instructions (import, commit) to an image
 * config, as docker does: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
 * USER, VOLUME, WORKDIR, STOPSIGNAL.
 */
export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  const c: ContainerConfig = structuredClone(base);
  for (const line of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*?)\s*$/.exec(line);
    if (!m) throw invalidArgument(`invalid change: ${JSON.stringify(line)}`);
    const instr = m[1].toUpperCase();
    const arg = m[2];
    switch (instr) {
      case 'CMD':
        c.Cmd = execOrShell(arg);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execOrShell(arg);
        break;
      case 'ENV':
        for (const [k, v] of keyValues(arg, 'ENV')) c.Env = [...(c.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
        break;
      case 'LABEL':
        for (const [k, v] of keyValues(arg, 'LABEL')) c.Labels = { ...c.Labels, [k]: v };
        break;
      case 'EXPOSE':
        for (const p of arg.split(/\s+/)) c.ExposedPorts = { ...c.ExposedPorts, [p.includes('/') ? p : `${p}/tcp`]: {} };
        break;
      case 'USER':
        c.User = arg;
        break;
      case 'WORKDIR':
        c.WorkingDir = arg;
        break;
      case 'STOPSIGNAL':
        c.StopSignal = arg;
        break;
      case 'VOLUME':
        for (const v of arg.startsWith('[') ? jsonArray(arg) : arg.split(/\s+/)) c.Volumes = { ...c.Volumes, [v]: {} };
        break;
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), arg];
        break;
      default:
        throw invalidArgument(`${instr} is not a valid change command`);
    }
  }
  return c;
}

function jsonArray(s: string): string[] {
  try {
    const v = JSON.parse(s);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* not JSON: fall through */
  }
  throw invalidArgument(`invalid JSON array: ${s}`);
}

function execOrShell(s: string): string[] {
  if (s.startsWith('[')) {
    try {
      return jsonArray(s);
    } catch {
      /* docker treats a malformed JSON form as shell form */
    }
  }
  return ['/bin/sh', '-c', s];
}

/** `K=V K2="v 2"` or the legacy `K V` form. */
function keyValues(s: string, instr: string): [string, string][] {
  if (!s.includes('=')) {
    const sp = s.search(/\s/);
    if (sp < 0) throw invalidArgument(`${instr} requires at least one argument`);
    return [[s.slice(0, sp), s.slice(sp).trim()]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1], v]);
  }
  return out;
}
