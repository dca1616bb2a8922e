import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseDocument, type ScalarTag } from 'yaml';
import { BerthError, invalidArgument, isErrno } from '../../base/errors';
import { parseEnvFile } from './env-file';
import { type Env, interpolateTree } from './interpolate';
import { mergeService } from './merge';
import type { ComposeFile, Project, Service } from './model';
import { normalizeFileSource, normalizeNetwork, normalizeService, normalizeVolume } from './normalize';
import { validateModel } from './schema';
import { resolveExtends } from './extends';
import { checkReferences } from './references';
import { edgesOf } from './graph';

type Raw = Record<string, any>;

export interface LoadOptions {
  /** `-f` files, in order; none: the project directory's compose file and its override. */
  files: string[];
  projectName?: string;
  projectDir?: string;
  /** `--env-file`s, in place of the project directory's `.env`. */
  envFiles?: string[];
  profiles?: string[];
  /** Services named on the command line: they and what they need run whatever their profiles. */
  services?: string[];
  /** The shell's environment (wins over `.env`). */
  env: Env;
  /** The directory `berth compose` runs in. */
  cwd: string;
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDES: Record<string, string[]> = {
  'compose.yaml': ['compose.override.yaml', 'compose.override.yml'],
  'compose.yml': ['compose.override.yml', 'compose.override.yaml'],
  'docker-compose.yml': ['docker-compose.override.yml', 'docker-compose.override.yaml'],
  'docker-compose.yaml': ['docker-compose.override.yaml', 'docker-compose.override.yml'],
};

/** The compose file of a directory or the nearest parent with one, and its override; as docker compose looks. */
function findFiles(cwd: string): string[] {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const found = DEFAULT_FILES.find((f) => fs.existsSync(path.join(dir, f)));
    if (found) {
      const over = OVERRIDES[found].find((f) => fs.existsSync(path.join(dir, f)));
      return [path.join(dir, found), ...(over ? [path.join(dir, over)] : [])];
    }
    if (dir === path.dirname(dir)) throw invalidArgument(`no configuration file provided: not found (looked for ${DEFAULT_FILES.join(', ')} in ${cwd} and its parents)`);
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw invalidArgument(`open ${file}: no such file or directory`);
    throw new BerthError('invalid_argument', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * `0440` is octal, as compose reads it (go-yaml keeps YAML 1.1's octal
 * integers): the file modes of secrets and configs are written so. YAML
 * 1.2's core schema would read 440.
 */
const legacyOctal: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

/** Reads one file: YAML (merge keys and anchors allowed), interpolation, the schema, then one shape per field. */
export function readComposeFile(file: string, env: Env, dir: string): ComposeFile {
  const lines = new LineCounter();
  const doc = parseDocument(readText(file), { merge: true, lineCounter: lines, prettyErrors: false, customTags: (tags) => [legacyOctal, ...tags] });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw invalidArgument(`${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  const data = doc.toJS({ maxAliasCount: 10_000 }) ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) throw invalidArgument(`${file}: the top level must be a mapping`);
  const model = interpolateTree(data, env, file) as Raw;
  validateModel(model, file, (p) => {
    const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? lines.linePos(node.range[0]).line : undefined;
  });
  const services = Object.fromEntries(Object.entries((model.services ?? {}) as Raw).map(([n, s]) => [n, normalizeService(n, s ?? {}, dir)]));
  // Secrets' and configs' files are the project's, read against its folder now, as services' paths are.
  const sources = (v: Raw | undefined) => Object.fromEntries(Object.entries(v ?? {}).map(([k, x]) => [k, normalizeFileSource(k, x, dir)]));
  const own: ComposeFile = { file, name: model.name, services, networks: model.networks ?? {}, volumes: model.volumes ?? {}, secrets: sources(model.secrets), configs: sources(model.configs) };
  return model.include ? withIncludes(own, model.include, env) : own;
}

/** `include:` brings another project's resources, each file read against its own directory; a name defined twice is an error. */
function withIncludes(own: ComposeFile, list: (string | Raw)[], env: Env): ComposeFile {
  const out: ComposeFile = { ...own, services: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
  for (const inc of list) {
    const spec = typeof inc === 'string' ? { path: inc } : inc;
    const paths = [spec.path].flat().map((p: string) => path.resolve(path.dirname(own.file), p));
    const dir = spec.project_directory ? path.resolve(path.dirname(own.file), spec.project_directory) : path.dirname(paths[0]);
    const incEnv = { ...envFiles([spec.env_file ?? []].flat().map((f: string) => path.resolve(dir, f)), env, dir, spec.env_file === undefined), ...env };
    const merged = mergeFiles(paths.map((p) => resolveExtends(readComposeFile(p, incEnv, dir), (x) => readComposeFile(x, incEnv, path.dirname(x)))));
    for (const kind of ['services', 'networks', 'volumes', 'secrets', 'configs'] as const) {
      for (const [k, v] of Object.entries(merged[kind])) {
        if (k in own[kind] || k in out[kind]) throw invalidArgument(`${own.file}: ${kind.slice(0, -1)} "${k}" of the included ${paths[0]} is already defined`);
        out[kind][k] = v;
      }
    }
  }
  return {
    ...out,
    services: { ...out.services, ...own.services },
    networks: { ...out.networks, ...own.networks },
    volumes: { ...out.volumes, ...own.volumes },
    secrets: { ...out.secrets, ...own.secrets },
    configs: { ...out.configs, ...own.configs },
  };
}

/** The variables of `.env` (or the given files); the shell's variables are seen by their interpolation. */
function envFiles(files: string[], env: Env, dir: string, optional: boolean): Env {
  const list = files.length ? files : [path.join(dir, '.env')];
  const out: Env = {};
  for (const f of list) {
    if (optional && !files.length && !fs.existsSync(f)) continue;
    Object.assign(out, parseEnvFile(readText(f), f, { ...env, ...out }));
  }
  return out;
}

function mergeFiles(files: ComposeFile[]): ComposeFile {
  const out: ComposeFile = { file: files[0].file, services: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
  for (const f of files) {
    out.name = f.name ?? out.name;
    for (const [n, s] of Object.entries(f.services)) out.services[n] = out.services[n] ? mergeService(out.services[n], s) : s;
    for (const [n, v] of Object.entries(f.networks)) out.networks[n] = { ...out.networks[n], ...v };
    for (const [n, v] of Object.entries(f.volumes)) out.volumes[n] = { ...out.volumes[n], ...v };
    for (const kind of ['secrets', 'configs'] as const) for (const [n, v] of Object.entries(f[kind])) out[kind][n] = { ...out[kind][n], ...v };
  }
  return out;
}

/** Compose's project name rules: lower case letters, digits, dashes and underscores, starting with a letter or digit. */
export function projectNameOf(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

/** Reads a project as docker compose does: files, `.env`, interpolation, the schema, extends, include, merge, profiles, references. */
export function loadProject(o: LoadOptions): Project {
  const fromEnv = o.env.COMPOSE_FILE?.split(o.env.COMPOSE_PATH_SEPARATOR ?? ':').filter(Boolean);
  const files = (o.files.length ? o.files : fromEnv?.length ? fromEnv : findFiles(o.cwd)).map((f) => path.resolve(o.cwd, f));
  const dir = o.projectDir ? path.resolve(o.cwd, o.projectDir) : path.dirname(files[0]);
  const env: Env = { ...envFiles((o.envFiles ?? []).map((f) => path.resolve(o.cwd, f)), o.env, dir, !o.envFiles?.length), ...o.env };
  const merged = mergeFiles(files.map((f) => resolveExtends(readComposeFile(f, env, dir), (x) => readComposeFile(x, env, path.dirname(x)))));
  const rawName = o.projectName ?? env.COMPOSE_PROJECT_NAME ?? merged.name ?? path.basename(dir);
  const name = projectNameOf(rawName);
  if (!name) throw invalidArgument(`project name ${JSON.stringify(rawName)} must contain a lower case letter or a digit`);

  const profiles = new Set([...(o.profiles ?? []), ...(env.COMPOSE_PROFILES?.split(',').filter(Boolean) ?? [])]);
  const services: Record<string, Service> = {};
  const disabled: Record<string, Service> = {};
  for (const [n, s] of Object.entries(merged.services)) {
    // A service built and not named gets compose v2's name for its image.
    if (s.build && !s.image) s.image = `${name}-${n}`;
    const on = !s.profiles.length || profiles.has('*') || s.profiles.some((p) => profiles.has(p));
    (on ? services : disabled)[n] = { ...s, environment: resolveEnvironment(s, env) };
  }
  enableNamed(o.services ?? [], services, disabled);
  const usesDefault = Object.values(services).some((s) => !s.network_mode && !Object.keys(s.networks).length);
  for (const s of Object.values(services)) if (!s.network_mode && !Object.keys(s.networks).length) s.networks = { default: { aliases: [], priority: 0 } };
  const rawNets = { ...(usesDefault && !merged.networks.default ? { default: {} } : {}), ...merged.networks };
  const project: Project = {
    name,
    workingDir: dir,
    configFiles: files,
    services,
    disabled,
    networks: Object.fromEntries(Object.entries(rawNets).map(([k, v]) => [k, normalizeNetwork(k, v, name)])),
    volumes: Object.fromEntries(Object.entries(merged.volumes).map(([k, v]) => [k, normalizeVolume(k, v, name)])),
    secrets: merged.secrets,
    configs: merged.configs,
  };
  // A secret or config from a variable is read now, from the variables the files were read with (an unset one is refused by what needs it: up, run).
  for (const all of [project.secrets, project.configs]) {
    for (const [k, src] of Object.entries(all)) if (src.environment !== undefined && env[src.environment] !== undefined) all[k] = { ...src, content: env[src.environment] };
  }
  checkReferences(project);
  return project;
}

/** A service's variables: its env_files, then `environment:`; a bare name takes the shell's value or is left out. */
function resolveEnvironment(s: Service, env: Env): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of s.env_file) Object.assign(out, parseEnvFile(readText(f), f, env));
  for (const [k, v] of Object.entries(s.environment)) {
    if (v !== null) out[k] = v;
    else if (env[k] !== undefined) out[k] = env[k]!;
  }
  return out;
}

/** Named services (and, transitively, what they depend on) are enabled whatever their profiles, as compose does. */
function enableNamed(names: string[], services: Record<string, Service>, disabled: Record<string, Service>): void {
  const stack = [...names];
  while (stack.length) {
    const n = stack.pop()!;
    const s = disabled[n] ?? services[n];
    if (!s) throw invalidArgument(`no such service: ${n}`);
    if (disabled[n]) {
      services[n] = s;
      delete disabled[n];
    }
    stack.push(...edgesOf(s).filter((e) => disabled[e.to]).map((e) => e.to));
  }
}
