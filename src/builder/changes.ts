import { invalidArgument } from '../base/errors';
import type { ContainerConfig } from '../oci/image';
import { parseInstruction } from './dockerfile';
import { applyMetadata, varsOf } from './metadata';

/** What `commit --change` and `import --change` take, as docker. */
const CHANGES = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** Applies `--change` Dockerfile instructions to an image config with the builder's own rules. */
export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  let config = base;
  let cmdSet = false;
  for (const line of changes) {
    const i = parseInstruction(line, 1, '--change');
    if (!CHANGES.has(i.keyword)) throw invalidArgument(`${i.keyword} is not a valid change command`);
    const r = applyMetadata(config, i, varsOf(config), '\\', cmdSet);
    config = r.config;
    cmdSet = r.cmdSet ?? cmdSet;
  }
  return config;
}
