import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { invalidArgument } from '../base/errors';
import type { Finding } from '../base/finding';
import { newId } from '../base/ids';
import { Build, type BuildMessage, type BuildOptions, type BuildWorker, type Changes, type RunSpec } from '../build/builder';
import { receiveContext } from '../build/context';
import { type BootstrapOptions, bootstrapDebian } from '../images/bootstrap';
import type { ImageRecord, ImageStore } from '../images/store';
import type { Digest } from '../oci/digest';
import { RUNTIME_PLACEHOLDERS } from './commit';
import { attachContainer } from './container-io';
import type { ContainerService } from './containers';
import type { EngineConfig } from './config';
import type { EventBus } from './events';
import type { Views } from './views';

export type { BuildMessage } from '../build/builder';
export type { BootstrapOptions } from '../images/bootstrap';

/**
 * Builds from Dockerfiles: the context lands under `<data root>/builds/<id>`
 * for the time of the build, and the builder's steps run here, on the
 * engine's containers (RUN) and snapshots (COPY, ADD, WORKDIR). Base
 * images bootstrapped with debootstrap are made in such a folder too.
 */
export class BuildService implements BuildWorker {
  /** Snapshots of steps in progress: the check leaves them alone. */
  private readonly active = new Set<string>();

  constructor(
    private readonly cfg: EngineConfig,
    private readonly containers: ContainerService,
    private readonly images: ImageStore,
    private readonly views: Views,
    private readonly events: EventBus,
  ) {}

  get root(): string {
    return path.join(this.cfg.dataRoot, 'builds');
  }

  /** Build folders in use. */
  private readonly folders = new Set<string>();

  ownsSnapshot(name: string): boolean {
    return this.active.has(name);
  }

  /** Build folders no build holds: contexts a crash left. */
  async check(): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const name of await fsp.readdir(this.root).catch(() => [] as string[])) {
      if (this.folders.has(name)) continue;
      const dir = path.join(this.root, name);
      out.push({ kind: 'build', subject: dir, detail: 'the context of a build that never finished', repair: () => fsp.rm(dir, { recursive: true, force: true }) });
    }
    return out;
  }

  /** fn with a folder of its own under root(), removed after. */
  private async inFolder<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const id = newId();
    const dir = path.join(this.root, id);
    this.folders.add(id);
    try {
      return await fn(dir);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
      this.folders.delete(id);
    }
  }

  build(context: Readable, o: BuildOptions & { dockerfile?: string }, emit: (m: BuildMessage) => void): Promise<ImageRecord> {
    return this.inFolder(async (dir) => {
      const ctx = await receiveContext(context, path.join(dir, 'context'), o.dockerfile || 'Dockerfile');
      const rec = await new Build(this.images, this, ctx, path.join(dir, 'scratch'), o, emit).run();
      this.events.publish('image', 'build', rec.id);
      return rec;
    });
  }

  /** `image bootstrap`: a Debian base image made with debootstrap. */
  bootstrap(o: BootstrapOptions, emit: (m: BuildMessage) => void): Promise<ImageRecord> {
    return this.inFolder(async (dir) => {
      const rec = await bootstrapDebian(this.images, dir, o, (line) => emit({ stream: line }));
      emit({ aux: { ID: rec.id } });
      this.events.publish('image', 'bootstrap', rec.id);
      return rec;
    });
  }

  async run(image: Digest | undefined, spec: RunSpec, output: (data: Buffer) => void, signal?: AbortSignal): Promise<{ exitCode: number; changes: Changes }> {
    if (!image) throw invalidArgument('RUN needs a root filesystem: FROM scratch has none until something is copied in');
    const { Id } = await this.containers.create(
      undefined,
      { Image: image, Cmd: spec.cmd, Entrypoint: [], Env: spec.env, User: spec.user, WorkingDir: spec.workdir, Labels: { 'berth.build': 'step' } },
      { NetworkMode: spec.network },
    );
    const release = () => this.containers.remove(Id, { force: true, volumes: true });
    try {
      output(Buffer.from(` ---> Running in ${Id.slice(0, 12)}\n`));
      const io = await attachContainer(this.containers, Id, { stdin: false, stdout: true, stderr: true, logs: true, stream: true });
      const abort = new AbortController();
      const pumped = (async () => {
        for await (const batch of io.output!(abort.signal)) for (const e of batch) output(e.full ? Buffer.concat([e.data, Buffer.from('\n')]) : e.data);
      })();
      const kill = () => void this.containers.kill(Id, 'SIGKILL').catch(() => {});
      signal?.addEventListener('abort', kill);
      try {
        await this.containers.start(Id);
        if (signal?.aborted) kill();
        const { StatusCode } = await this.containers.wait(Id);
        await pumped;
        return { exitCode: StatusCode, changes: { upper: this.images.snapshots.upperDir(Id), skip: RUNTIME_PLACEHOLDERS, release } };
      } finally {
        signal?.removeEventListener('abort', kill);
        abort.abort();
        await pumped.catch(() => {});
        io.close?.();
      }
    } catch (e) {
      await release().catch(() => {});
      throw e;
    }
  }

  async change(image: Digest | undefined, fn: (root: string) => Promise<void>): Promise<Changes> {
    const key = `build-${newId()}`;
    this.active.add(key);
    const snaps = this.images.snapshots;
    const release = async () => {
      await snaps.remove(key);
      this.active.delete(key);
    };
    try {
      await this.images.gate.shared(async () => snaps.prepare(key, image ? await this.images.topSnapshot(image) : undefined));
      await this.views.with(await snaps.mounts(key), fn);
      return { upper: snaps.upperDir(key), release };
    } catch (e) {
      await release().catch(() => {});
      throw e;
    }
  }

  async read<T>(image: Digest | undefined, fn: (root: string) => Promise<T>): Promise<T> {
    const top = image ? await this.images.topSnapshot(image) : undefined;
    return this.views.with(top ? await this.images.snapshots.mounts(top) : [], fn);
  }
}
