import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isErrno } from '../base/errors';
import { mkdirp } from '../base/files';
import type { Logger } from '../base/log';
import { ContentStore } from '../content/store';
import { type AccessRule, type AuthMode, Authorizer } from './auth';
import { collectGarbage, type GcOptions, type GcReport } from './gc';
import { Repositories } from './repositories';
import { registryHandler } from './server';
import { Uploads } from './uploads';

export interface RegistryOptions {
  auth: AuthMode;
  htpasswd?: string;
  rules?: AccessRule[];
  logger: Logger;
}

/**
 * A registry over one root folder: `content/` (the blobs, through the same
 * content store as the engine's), `repositories/` (links, tags, sessions),
 * `token.key` (signs tokens). The server and the collector are built on it.
 */
export class Registry {
  private constructor(
    readonly repos: Repositories,
    readonly uploads: Uploads,
    readonly auth: Authorizer,
    private readonly logger: Logger,
  ) {}

  static async open(root: string, o: RegistryOptions): Promise<Registry> {
    await mkdirp(root, 0o700);
    const content = await ContentStore.open(path.join(root, 'content'));
    await mkdirp(path.join(root, 'repositories'));
    const repos = new Repositories(path.join(root, 'repositories'), content);
    const auth = new Authorizer({ mode: o.auth, htpasswd: o.htpasswd, rules: o.rules, key: await tokenKey(root) });
    return new Registry(repos, new Uploads(repos), auth, o.logger);
  }

  handler(scheme: 'http' | 'https') {
    return registryHandler(this.repos, this.uploads, this.auth, this.logger, scheme);
  }

  gc(o: GcOptions): Promise<GcReport> {
    return collectGarbage(this.repos, this.uploads, o);
  }

  close(): Promise<void> {
    return this.uploads.close();
  }
}

async function tokenKey(root: string): Promise<Buffer> {
  const file = path.join(root, 'token.key');
  try {
    return await fsp.readFile(file);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  const key = randomBytes(32);
  await fsp.writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(async (e) => {
    if (!isErrno(e, 'EEXIST')) throw e;
  });
  return fsp.readFile(file);
}
