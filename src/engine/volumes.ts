import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { conflict, invalidArgument, isErrno, notFound } from '../base/errors';
import { atomicWriteJson, diskUsage, mkdirp, readJsonIfExists } from '../base/files';
import { newId } from '../base/ids';

/** A local volume as the Engine API shows it. */
export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Named local volumes: volumes/<name>/_data, described by volumes/<name>/volume.json. */
export class VolumeStore {
  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<VolumeStore> {
    await mkdirp(root, 0o701);
    return new VolumeStore(root);
  }

  private dir(name: string) {
    return path.join(this.root, name);
  }

  async get(name: string): Promise<Volume | undefined> {
    if (!NAME.test(name)) return undefined;
    return readJsonIfExists<Volume>(path.join(this.dir(name), 'volume.json'));
  }

  async inspect(name: string): Promise<Volume> {
    const v = await this.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  /** Creates a volume; an existing one with that name is returned as it is (as docker does). */
  async create(name: string | undefined, labels: Record<string, string> = {}, options: Record<string, string> = {}): Promise<Volume & { created: boolean }> {
    const anonymous = !name;
    const n = name || newId();
    if (!NAME.test(n)) throw invalidArgument(`create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    if (Object.keys(options).length) throw invalidArgument(`create ${n}: local volume options are not supported yet: ${Object.keys(options).join(', ')}`);
    const existing = await this.get(n);
    if (existing) return { ...existing, created: false };
    const dir = this.dir(n);
    await mkdirp(path.join(dir, '_data'));
    const v: Volume = {
      Name: n, Driver: 'local', Mountpoint: path.join(dir, '_data'), CreatedAt: new Date().toISOString(),
      Labels: anonymous ? { ...labels, [ANONYMOUS_LABEL]: '' } : labels, Options: options, Scope: 'local',
    };
    await atomicWriteJson(path.join(dir, 'volume.json'), v);
    return { ...v, created: true };
  }

  async list(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const n of await fsp.readdir(this.root)) {
      const v = await this.get(n);
      if (v) out.push(v);
    }
    return out;
  }

  /** Removes a volume; `usedBy` lists containers that still mount it. */
  async remove(name: string, usedBy: string[]): Promise<void> {
    await this.inspect(name);
    if (usedBy.length) throw conflict(`remove ${name}: volume is in use - [${usedBy.join(', ')}]`);
    // The description goes first, so a crash leaves a folder that is not a volume.
    await fsp.unlink(path.join(this.dir(name), 'volume.json')).catch((e) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
    await fsp.rm(this.dir(name), { recursive: true, force: true });
  }

  async usage(name: string): Promise<number> {
    return (await diskUsage(path.join(this.dir(name), '_data'))).size;
  }
}
