import * as path from 'node:path';
import { invalidArgument } from '../base/errors';
import { parseGoDuration } from '../base/duration';
import type { ContainerConfig, HealthConfig } from '../oci/image';
import { type Instruction, parseInstruction } from './dockerfile';
import { expandWord, expandWords, keyValues, type Vars } from './words';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Instructions that only change the image's config: they make no layer. */
export const METADATA = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

export interface MetadataResult {
  config: ContainerConfig;
  /** The history line, as docker writes it (`/bin/sh -c #(nop)  ENV A=b`). */
  createdBy: string;
  /** Set by CMD: an ENTRYPOINT later in the stage keeps it. */
  cmdSet?: boolean;
  /** Set by MAINTAINER. */
  author?: string;
}

/** The variables an instruction sees: the stage's ARGs, then its ENV over them. */
export function varsOf(config: ContainerConfig, args: ReadonlyMap<string, string | undefined> = new Map()): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [k, v] of args) if (v !== undefined) vars.set(k, v);
  for (const e of config.Env ?? []) {
    const eq = e.indexOf('=');
    vars.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
  }
  return vars;
}

/** A RUN, CMD or ENTRYPOINT command: the exec form as written, the shell form through the shell. */
export function commandOf(i: Instruction, shell: string[] | undefined): string[] {
  return i.json ?? [...(shell?.length ? shell : DEFAULT_SHELL), i.args];
}

const nop = (s: string) => `/bin/sh -c #(nop)  ${s}`;
const goList = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** Applies one metadata instruction to a config, as docker's classic builder does. */
export function applyMetadata(base: ContainerConfig, i: Instruction, vars: Vars, escape = '\\', cmdSet = false): MetadataResult {
  const c: ContainerConfig = structuredClone(base);
  const word = (s: string) => expandWord(s, vars, escape);
  const words = (s: string) => expandWords(s, vars, escape);
  switch (i.keyword) {
    case 'CMD':
      c.Cmd = commandOf(i, c.Shell);
      return { config: c, createdBy: nop(`CMD ${goList(c.Cmd)}`), cmdSet: true };
    case 'ENTRYPOINT':
      c.Entrypoint = i.json ?? (i.args ? commandOf(i, c.Shell) : null);
      // As docker: a new entrypoint drops the base image's CMD, not one set in this stage.
      if (!cmdSet) c.Cmd = null;
      return { config: c, createdBy: nop(`ENTRYPOINT ${goList(c.Entrypoint ?? [])}`), cmdSet };
    case 'ENV': {
      const pairs = keyValues(i.args, vars, 'ENV', escape) as [string, string][];
      let env = c.Env ?? [];
      for (const [k, v] of pairs) env = [...env.filter((e) => e !== k && !e.startsWith(`${k}=`)), `${k}=${v}`];
      c.Env = env;
      return { config: c, createdBy: nop(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`) };
    }
    case 'LABEL': {
      const pairs = keyValues(i.args, vars, 'LABEL', escape) as [string, string][];
      c.Labels = { ...c.Labels, ...Object.fromEntries(pairs) };
      return { config: c, createdBy: nop(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`) };
    }
    case 'EXPOSE': {
      const ports = words(i.args).flatMap(exposedPorts);
      c.ExposedPorts = { ...c.ExposedPorts, ...Object.fromEntries(ports.map((p) => [p, {}])) };
      return { config: c, createdBy: nop(`EXPOSE ${ports.join(' ')}`) };
    }
    case 'USER':
      c.User = word(i.args);
      return { config: c, createdBy: nop(`USER ${c.User}`) };
    case 'WORKDIR': {
      const dir = word(i.args);
      c.WorkingDir = path.posix.resolve(c.WorkingDir || '/', dir);
      return { config: c, createdBy: nop(`WORKDIR ${c.WorkingDir}`) };
    }
    case 'STOPSIGNAL': {
      const sig = word(i.args);
      if (!/^(SIG)?[A-Z][A-Z0-9+-]*$|^\d+$/i.test(sig)) throw invalidArgument(`invalid signal: ${sig}`);
      c.StopSignal = sig;
      return { config: c, createdBy: nop(`STOPSIGNAL ${sig}`) };
    }
    case 'VOLUME': {
      const vols = i.json ?? words(i.args);
      if (!vols.length || vols.some((v) => !v.trim())) throw invalidArgument('VOLUME specified can not be an empty string');
      c.Volumes = { ...c.Volumes, ...Object.fromEntries(vols.map((v) => [v, {}])) };
      return { config: c, createdBy: nop(`VOLUME ${goList(vols)}`) };
    }
    case 'SHELL':
      if (!i.json?.length) throw invalidArgument('SHELL requires the arguments to be in JSON form');
      c.Shell = i.json;
      return { config: c, createdBy: nop(`SHELL ${goList(i.json)}`) };
    case 'ONBUILD': {
      const trigger = parseInstruction(i.args, i.line);
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(trigger.keyword)) throw invalidArgument(`${trigger.keyword} isn't allowed as an ONBUILD trigger`);
      c.OnBuild = [...(c.OnBuild ?? []), i.args];
      return { config: c, createdBy: nop(`ONBUILD ${i.args}`) };
    }
    case 'HEALTHCHECK':
      c.Healthcheck = healthcheck(i);
      return { config: c, createdBy: nop(`HEALTHCHECK &{${goList(c.Healthcheck.Test ?? [])} ${JSON.stringify(c.Healthcheck)}}`) };
    case 'MAINTAINER': {
      const author = word(i.args);
      return { config: c, createdBy: nop(`MAINTAINER ${author}`), author };
    }
  }
  throw invalidArgument(`${i.keyword} is not a metadata instruction`);
}

/** `80`, `53/udp`, `8000-8002/tcp` → docker's port keys. */
function exposedPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw invalidArgument(`invalid containerPort: ${spec}`);
  const [lo, hi] = [Number(m[1]), Number(m[2] ?? m[1])];
  if (lo < 1 || hi > 65535 || hi < lo) throw invalidArgument(`invalid port range: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: hi - lo + 1 }, (_, k) => `${lo + k}/${proto}`);
}

function healthcheck(i: Instruction): HealthConfig {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(i.args);
  const sub = m?.[1].toUpperCase();
  if (sub === 'NONE') {
    if (i.flags.size || m![2].trim()) throw invalidArgument('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (sub !== 'CMD' || !m![2].trim()) throw invalidArgument('HEALTHCHECK requires NONE or CMD followed by a command');
  const cmd = m![2].trim();
  const exec = cmd.startsWith('[') ? parseInstruction(`CMD ${cmd}`).json : undefined;
  const h: HealthConfig = { Test: exec ? ['CMD', ...exec] : ['CMD-SHELL', cmd] };
  const dur = (flag: string) => {
    const v = i.flags.get(flag);
    if (v === undefined) return undefined;
    const ns = typeof v === 'string' ? parseGoDuration(v) : undefined;
    if (ns === undefined) throw invalidArgument(`invalid duration for --${flag}: ${v}`);
    return ns;
  };
  h.Interval = dur('interval');
  h.Timeout = dur('timeout');
  h.StartPeriod = dur('start-period');
  const retries = i.flags.get('retries');
  if (retries !== undefined) {
    if (typeof retries !== 'string' || !/^\d+$/.test(retries) || Number(retries) < 1) throw invalidArgument(`--retries must be at least 1: ${retries}`);
    h.Retries = Number(retries);
  }
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as HealthConfig;
}
