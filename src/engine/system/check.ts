import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage } from '../../base/errors';
import type { Finding } from '../../base/finding';
import type { ImageStore } from '../../images/store';
import type { BuildService } from '../images/builds';
import type { EngineConfig } from '../config';
import type { ContainerService } from '../containers/containers';
import type { ExecService } from '../containers/execs';
import type { NetworkService } from '../networks/networks';
import { type Inventory, takeInventory } from './leftovers';
import type { Views } from '../rootfs/views';
import type { VolumeStore } from '../volumes';
import { readdirIfExists, statIfExists } from '../../base/files';

/** A finding as `system check` reports it. */
export interface Problem {
  Kind: string;
  Subject: string;
  Detail: string;
  /** With repair: true when put right, else the error. */
  Repaired?: boolean;
  Error?: string;
}

export interface CheckOptions {
  repair: boolean;
  /** Temp files of atomic writes younger than this may be writes in progress (0 at start-up, when none are). */
  tempAgeMs: number;
}

/**
 * Compares the disk and the host with the stores: every kind of orphan
 * (conmons, runtime state, mounts, cgroups, bundles, exec
 * sessions, folders without records, snapshots, layers, blobs, ingests,
 * pending volumes, temp files) and records whose parts are gone. It holds
 * the image gate exclusive and skips containers with an operation under
 * way, so nothing in progress is taken for an orphan. Repairs run in an
 * order that frees what holds before what is held: processes, mounts,
 * records, then layers and blobs.
 */
export async function checkSystem(
  e: { cfg: EngineConfig; containers: ContainerService; execs: ExecService; images: ImageStore; volumes: VolumeStore; networks: NetworkService; views: Views; builds: BuildService },
  o: CheckOptions,
): Promise<Problem[]> {
  return e.images.gate.exclusive(async () => {
    const inv = await inventoryOf(e);
    const store = e.containers.store;
    const findings: Finding[] = [
      ...(await e.containers.check(inv)),
      ...e.execs.check(inv),
      ...(await e.views.check()),
      ...(await e.networks.check((id) => !!store.byFullId(id)?.State.Running, (id) => e.containers.isBusy(id))),
      ...(await e.builds.check()),
      ...(await e.images.check((name) => e.containers.ownsSnapshot(name) || e.builds.ownsSnapshot(name))),
      ...(await e.volumes.check(
        (id) => (store.byFullId(id) ? 'saved' : store.isCreating(id) ? 'creating' : 'unknown'),
        (name) => e.containers.volumeUsers(name),
      )),
      ...(await tempFiles(e.cfg.dataRoot, e.networks.recordDirs(), o.tempAgeMs)),
    ];
    const out: Problem[] = [];
    for (const f of findings) {
      const p: Problem = { Kind: f.kind, Subject: f.subject, Detail: f.detail };
      if (o.repair) {
        try {
          await f.repair();
          p.Repaired = true;
        } catch (err) {
          p.Repaired = false;
          p.Error = errorMessage(err);
        }
      }
      out.push(p);
    }
    return out;
  });
}

/** What this daemon's containers and exec sessions have on the host now. */
export function inventoryOf(e: { cfg: EngineConfig; containers: ContainerService }): Promise<Inventory> {
  return takeInventory({ dataRoot: e.cfg.dataRoot, execRoot: e.cfg.execRoot, runtimeRoots: e.containers.runtimeRoots(), cgroupParent: e.cfg.cgroupParent });
}

const TEMP = /\.[0-9a-f]{8}\.tmp$/;

/** Temp files of atomic writes (base/files) left in the record folders by a crash. */
async function tempFiles(dataRoot: string, more: string[], minAgeMs: number): Promise<Finding[]> {
  const dirs = [path.join(dataRoot, 'images'), ...more];
  for (const top of ['containers', 'volumes', 'snapshots']) {
    for (const d of await readdirIfExists(path.join(dataRoot, top))) dirs.push(path.join(dataRoot, top, d));
  }
  const out: Finding[] = [];
  const now = Date.now();
  for (const dir of dirs) {
    for (const f of await readdirIfExists(dir)) {
      if (!TEMP.test(f)) continue;
      const file = path.join(dir, f);
      const st = await statIfExists(file);
      if (!st || now - st.mtimeMs < minAgeMs) continue;
      out.push({ kind: 'temp-file', subject: file, detail: 'an atomic write that never finished', repair: () => fsp.rm(file, { force: true }) });
    }
  }
  return out;
}
