import { createHash } from 'node:crypto';
import type { Service } from './spec/model';

/** compose's labels, so docker compose and berth compose each see the other's projects. */
export const Label = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  hash: 'com.docker.compose.config-hash',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  version: 'com.docker.compose.version',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
  dependsOn: 'com.docker.compose.depends_on',
  image: 'com.docker.compose.image',
  /** Berth's: the base environment of a layered one's containers. */
  base: 'io.berth.compose.base',
} as const;

/**
 * The version berth compose writes. docker-compose 1.29 treats containers
 * labelled before its 1.21 as of a legacy naming scheme, so this must read as
 * a later version: the compose v2 generation whose files Berth reads.
 */
export const COMPOSE_VERSION = '2.0.0-berth';

const stable = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(stable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, stable((v as Record<string, unknown>)[k])]));
  return v;
};

/**
 * What `up` compares to know whether a container is out of date: a digest of
 * the service as the files now define it, less what does not shape its
 * containers (how many there are, profiles, build inputs, dependencies, watch rules).
 */
export function configHash(s: Service): string {
  const { scale: _s, profiles: _p, build: _b, depends_on: _d, deploy, pull_policy: _pp, develop: _w, ...rest } = s;
  const d = deploy as Record<string, unknown> | undefined;
  const shaping = d ? { ...rest, deploy: { ...d, replicas: undefined } } : rest;
  return createHash('sha256').update(JSON.stringify(stable(shaping))).digest('hex');
}
