import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, errorMessage, invalidArgument } from '../../base/errors';
import type { Finding } from '../../base/finding';
import { newId } from '../../base/ids';
import { Build, type BuildMessage, type BuildOptions, type BuildWorker, type Changes, type RunSpec } from '../../builder/builder';
import { receiveContext } from '../../builder/context';
import { type BootstrapOptions, bootstrapDebian } from '../../images/bootstrap';
import type { ImageRecord, ImageStore } from '../../images/store';
import { type Digest, sha256 } from '../../oci/digest';
import { parseReference } from '../../oci/reference';
import { RUNTIME_PLACEHOLDERS } from '../rootfs/commit';
import { attachContainer } from '../containers/container-io';
import type { ContainerService } from '../containers/containers';
import type { EngineConfig } from '../config';
import type { EventBus } from '../system/events';
import type { Credentials, Registries } from './registries';
import type { Views } from '../rootfs/views';
import { diskUsage, readdirIfExists, statIfExists } from '../../base/files';
import { removeMountStubs } from '../../snapshots/stubs';
import { StepMounts } from './step-mounts';
import type { DiskGuard } from '../system/disk-guard';

export type { BuildMessage } from '../../builder/builder';

/** Contexts kept for the next build of the same Dockerfile and tags, under `<builds>/contexts/`. */
const CONTEXTS = 'contexts';
const MAX_CONTEXTS = 8;
/** RUN --mount=type=cache folders, kept between builds until `builder prune`. */
const CACHE_MOUNTS = 'cache-mounts';
export type { BootstrapOptions } from '../../images/bootstrap';

/**
 * Builds from Dockerfiles: the context lands under `<data root>/builds/<id>`
 * for the time of the build, and the builder's steps run here, on the
 * engine's containers (RUN) and snapshots (COPY, ADD, WORKDIR). Base
 * images bootstrapped with debootstrap are made in such a folder too.
 */
export class BuildService implements BuildWorker {
  /** Snapshots of steps in progress: the check leaves them alone. */
  private readonly active = new Set<string>();
  private readonly stepMounts: StepMounts;

  constructor(
    private readonly cfg: EngineConfig,
    private readonly containers: ContainerService,
    private readonly images: ImageStore,
    private readonly views: Views,
    private readonly events: EventBus,
    private readonly registries: Registries,
    private readonly disk: DiskGuard,
  ) {
    this.stepMounts = new StepMounts(path.join(this.root, CACHE_MOUNTS), path.join(cfg.execRoot, 'build-secrets'));
  }

  get root(): string {
    return path.join(this.cfg.dataRoot, 'builds');
  }

  /** Build folders in use. */
  private readonly folders = new Set<string>();
  /** Context folders builds hold now. */
  private readonly contextsInUse = new Set<string>();

  /** A base image from its registry, the pull's progress as build output lines. */
  async pull(ref: string, say: (line: string) => void, signal?: AbortSignal, registryConfig?: Record<string, Credentials>): Promise<Digest> {
    const credentials = registryConfig?.[parseReference(ref).domain];
    const seen = new Set<string>();
    const { image } = await this.registries.pull({
      reference: ref,
      credentials,
      signal,
      onProgress: (e) => {
        // Plain lines, one per change of a layer's state (the bars are for terminals).
        if (e.current !== undefined) return;
        const line = `${e.id ? `${e.id}: ` : ''}${e.status}`;
        if (!seen.has(line)) say(line + '\n');
        seen.add(line);
      },
    });
    return image.id;
  }

  ownsSnapshot(name: string): boolean {
    return this.active.has(name);
  }

  /** Build folders no build holds: contexts a crash left. */
  async check(): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const name of await readdirIfExists(this.root)) {
      if (this.folders.has(name) || name === CONTEXTS || name === CACHE_MOUNTS) continue;
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

  build(context: Readable, o: BuildOptions & { dockerfile?: string; registryConfig?: Record<string, Credentials> }, emit: (m: BuildMessage) => void): Promise<ImageRecord> {
    return this.inFolder(async (dir) => {
      await this.disk.ensureRoom('build');
      const ctx = await this.withContextFolder(o, dir, (at) => receiveContext(context, at, o.dockerfile || 'Dockerfile'));
      try {
        // This build's registry credentials go with its pulls only.
        const worker: BuildWorker = {
          run: (...a) => this.run(...a),
          change: (...a) => this.change(...a),
          read: (image, fn) => this.read(image, fn),
          pull: (ref, say, signal) => this.pull(ref, say, signal, o.registryConfig),
        };
        const rec = await new Build(this.images, worker, ctx, path.join(dir, 'scratch'), o, emit).run();
        this.events.publish('image', 'build', rec.id);
        return rec;
      } finally {
        this.contextsInUse.delete(ctx.dir);
      }
    });
  }

  /**
   * Where a context lands: the folder the same Dockerfile and tags used
   * last time (so a context sent again writes only what changed), unless
   * another build holds it; the least recently used of these folders go
   * past MAX_CONTEXTS. The folder is held until the build ends.
   */
  private async withContextFolder<T extends { dir: string }>(o: BuildOptions & { dockerfile?: string }, buildDir: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const key = sha256(JSON.stringify([o.dockerfile ?? 'Dockerfile', [...(o.tags ?? [])].sort()])).slice(7, 23);
    const kept = path.join(this.root, CONTEXTS, key);
    const dir = this.contextsInUse.has(kept) ? path.join(buildDir, 'context') : kept;
    this.contextsInUse.add(dir);
    try {
      if (dir === kept) await this.evictContexts(key);
      return await fn(dir);
    } catch (e) {
      this.contextsInUse.delete(dir);
      throw e;
    }
  }

  private async evictContexts(keep: string): Promise<void> {
    const root = path.join(this.root, CONTEXTS);
    await fsp.mkdir(root, { recursive: true, mode: 0o700 });
    const now = new Date();
    await fsp.utimes(root, now, now);
    const all = await Promise.all((await fsp.readdir(root)).map(async (n) => ({ n, t: (await fsp.stat(path.join(root, n))).mtimeMs })));
    const idle = all.filter((c) => c.n !== keep && !this.contextsInUse.has(path.join(root, c.n))).sort((a, b) => b.t - a.t);
    for (const c of idle.slice(MAX_CONTEXTS - 1)) await fsp.rm(path.join(root, c.n), { recursive: true, force: true });
    const mine = path.join(root, keep);
    if (await statIfExists(mine)) await fsp.utimes(mine, now, now);
  }

  /**
   * `builder prune` (POST /build/prune): the build cache that is not
   * images: RUN --mount caches and the contexts kept for the next build,
   * those no build holds. Step images are images: `image prune` takes them,
   * as docker's classic builder leaves them.
   */
  async prune(): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const caches = await this.stepMounts.prune();
    const deleted = caches.removed.map((n) => `cache-mount:${n}`);
    let bytes = caches.bytes;
    const root = path.join(this.root, CONTEXTS);
    for (const name of await readdirIfExists(root)) {
      const dir = path.join(root, name);
      if (this.contextsInUse.has(dir)) continue;
      bytes += (await diskUsage(dir)).size;
      await fsp.rm(dir, { recursive: true, force: true });
      deleted.push(`context:${name}`);
    }
    return { CachesDeleted: deleted, SpaceReclaimed: bytes };
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
    const mounts = await this.stepMounts.prepare(spec.mounts);
    let Id: string;
    try {
      ({ Id } = await this.containers.create(
        undefined,
        { Image: image, Cmd: spec.cmd, Entrypoint: [], Env: spec.env, User: spec.user, WorkingDir: spec.workdir, Labels: { 'berth.build': 'step' } },
        { NetworkMode: spec.network, ExtraHosts: spec.extraHosts, Mounts: mounts.binds, Tmpfs: mounts.tmpfs },
      ));
    } catch (e) {
      await mounts.release();
      throw e;
    }
    const release = async () => {
      await mounts.release();
      await this.containers.remove(Id, { force: true, volumes: true });
    };
    try {
      output(Buffer.from(` ---> Running in ${Id.slice(0, 12)}\n`));
      const io = await attachContainer(this.containers, Id, { stdin: false, stdout: true, stderr: true, logs: true, stream: true });
      const abort = new AbortController();
      const pumped = (async () => {
        for await (const batch of io.output!(abort.signal)) for (const e of batch) output(e.full ? Buffer.concat([e.data, Buffer.from('\n')]) : e.data);
      })();
      // An abort kills the step; a container that has already exited (conflict) or gone is no failure.
      const kill = () =>
        void this.containers.kill(Id, 'SIGKILL').catch((e) => {
          if (!(e instanceof BerthError && (e.code === 'conflict' || e.code === 'not_found'))) this.cfg.logger.warn('kill of a cancelled build step', { id: Id, error: errorMessage(e) });
        });
      signal?.addEventListener('abort', kill);
      try {
        await this.containers.start(Id);
        if (signal?.aborted) kill();
        const { StatusCode } = await this.containers.wait(Id);
        await pumped;
        await mounts.release();
        // The mount points the runtime made are not the step's work (BuildKit removes them too).
        await removeMountStubs(this.images.snapshots.upperDir(Id), await this.images.snapshots.lowerDirs(Id), spec.mounts.map((m) => m.target));
        return { exitCode: StatusCode, changes: { upper: this.images.snapshots.upperDir(Id), skip: RUNTIME_PLACEHOLDERS, release } };
      } finally {
        signal?.removeEventListener('abort', kill);
        abort.abort();
        await pumped.catch(() => undefined); // the output's end after the abort; the step's own result is what counts
        io.close?.();
      }
    } catch (e) {
      await release().catch((err) => this.cfg.logger.warn('build step cleanup', { error: errorMessage(err) }));
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
      await release().catch((err) => this.cfg.logger.warn('build step cleanup', { error: errorMessage(err) }));
      throw e;
    }
  }

  async read<T>(image: Digest | undefined, fn: (root: string) => Promise<T>): Promise<T> {
    const top = image ? await this.images.topSnapshot(image) : undefined;
    return this.views.with(top ? await this.images.snapshots.mounts(top) : [], fn);
  }
}
