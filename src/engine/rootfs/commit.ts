import type { Readable } from 'node:stream';
import { BerthError, errorMessage, internal } from '../../base/errors';
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
    // Pause only what runs: a container that exits just before its pause is read as it stands.
    const frozen = o.pause !== false && c.State.Running && !c.State.Paused && (await this.containers.pause(c.Id).then(() => true, (e) => {
      if (e instanceof BerthError && (e.code === 'conflict' || e.code === 'not_found')) return false;
      throw e;
    }));
    let rec: ImageRecord;
    try {
      rec = await this.images.gate.shared(async () => {
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
    } finally {
      if (frozen) await this.thaw(c.Id);
    }
    this.events.container('commit', c, { imageID: rec.id });
    return rec;
  }

  /** Unpauses what commit paused; a container left frozen is an error the caller hears of (its record says paused). */
  private async thaw(id: string): Promise<void> {
    await this.containers.unpause(id).catch((e) => {
      if (!this.containers.store.find(id)?.State.Paused) return; // gone or exited meanwhile: nothing frozen
      throw internal(`the image was made, but the container could not be unpaused and is still paused (berth unpause ${id.slice(0, 12)}): ${errorMessage(e)}`, e);
    });
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
