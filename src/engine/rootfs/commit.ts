import type { Readable } from 'node:stream';
import { applyChanges } from '../../builder/changes';
import { createImage } from '../../images/importer';
import type { ImageRecord, ImageStore } from '../../images/store';
import type { ContainerConfig, ImageConfig } from '../../oci/image';
import { normalize } from '../../oci/reference';
import { type Change, changes, packLayer } from '../../snapshots/diff';
import type { EngineConfig } from '../config';
import { type ContainerService, runPaths } from '../containers/containers';
import type { EventBus } from '../system/events';
import { commandText } from '../system/present';
import type { Views } from './views';

/**
 * Mount points the runtime makes in a container's upper folder when the
 * image lacks them: docker keeps them in an init layer under the container's,
 * so they are neither changes nor part of a commit. (What is mounted inside
 * /dev and /sys lands on those mounts, never in the upper folder.)
 */
export const RUNTIME_PLACEHOLDERS = new Set(['dev', 'proc', 'sys', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']);

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions applied to the config (CMD, ENV, ...). */
  changes?: string[];
  /** Config fields over the container's own (the request body of POST /commit). */
  config?: ContainerConfig;
  /** Freeze a running container while its layer is read (docker's default). */
  pause?: boolean;
}

/**
 * Containers to images: `diff`, `commit` and `export`. The container's
 * snapshot is an overlay upper folder over its image's layers; its changes
 * are that folder, and a commit is that folder packed as one more layer.
 */
export class ContainerImages {
  constructor(
    private readonly cfg: EngineConfig,
    private readonly containers: ContainerService,
    private readonly images: ImageStore,
    private readonly events: EventBus,
    private readonly views: Views,
  ) {}

  /** `docker diff`: what the container changed, added and deleted. */
  async diff(ref: string): Promise<Change[]> {
    const c = this.containers.store.get(ref);
    const snaps = this.images.snapshots;
    return changes(snaps.upperDir(c.Id), await snaps.lowerDirs(c.Id), RUNTIME_PLACEHOLDERS);
  }

  async commit(ref: string, o: CommitOptions): Promise<ImageRecord> {
    const c = this.containers.store.get(ref);
    const names = o.repo ? [o.tag ? `${o.repo}:${o.tag}` : o.repo] : [];
    names.forEach((n) => normalize(n)); // a bad name fails before any work
    const base = await this.images.config(c.Image);
    const config = applyChanges({ ...(c.Config as ContainerConfig), ...o.config }, o.changes ?? []);
    const frozen = o.pause !== false && c.State.Running && !c.State.Paused;
    if (frozen) await this.containers.pause(c.Id);
    try {
      const rec = await this.images.gate.shared(async () => {
        const layer = await this.images.content.ingest(packLayer(this.images.snapshots.upperDir(c.Id), RUNTIME_PLACEHOLDERS));
        const now = new Date().toISOString();
        const image: ImageConfig = {
          ...base,
          created: now,
          author: o.author || undefined,
          config,
          rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, layer.digest] },
          history: [...(base.history ?? []), { created: now, created_by: commandText(c), author: o.author || undefined, comment: o.comment || undefined }],
        };
        const layers = (await this.images.manifest(c.Image)).layers;
        return createImage(this.images, image, [...layers, layer], names);
      });
      this.events.publish('container', 'commit', c.Id, { name: c.Name.slice(1), imageID: rec.id });
      return rec;
    } finally {
      if (frozen) await this.containers.unpause(c.Id).catch(() => {});
    }
  }

  /**
   * `docker export`: the container's whole root filesystem as a tar, read
   * from its mount when it runs, else from a read-only view of its layers
   * (its own upper folder on top) for the time of the export.
   */
  async export(ref: string): Promise<Readable> {
    const c = this.containers.store.get(ref);
    if (c.State.Running) return packLayer(runPaths(this.cfg.execRoot, c.Id).rootfs);
    const view = await this.views.open(await this.images.snapshots.frozenMounts(c.Id));
    const stream = packLayer(view.dir);
    stream.once('close', () => void view.release());
    return stream;
  }
}
