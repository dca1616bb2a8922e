import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { containerLogs } from '../../engine/containers/container-io';
import type { Engine } from '../../engine/engine';
import { type Digest, parseDigest } from '../../oci/digest';
import type { ContainerTemplate } from '../core/model';
import type { MountSpec } from '../../engine/model';
import type { Credentials } from '../../engine/images/registries';
import type { OverlaySpec } from '../../engine/networks/network-store';
import { type AgentEngine, TASK_LABEL, type TaskContainer, type TaskEndpoint, type TaskFile } from './agent';
import type { Counters } from './usage';

/** The agent's view of this node's engine: task containers made, started, stopped and removed through it. */
export function engineForAgent(engine: Engine): AgentEngine {
  const c = engine.containers;
  // With the service's credentials where it was given some (--with-registry-auth), else anonymously.
  const ensureImage = async (image: string, credentials?: Credentials): Promise<boolean> => {
    if (await engine.images.store.resolve(image).then(() => true, () => false)) return false;
    await engine.registries.pull({ reference: /@|:[^/]+$/.test(image) ? image : `${image}:latest`, ...(credentials ? { credentials } : {}) });
    return true;
  };
  const content = engine.images.store.content;
  // Secrets' and configs' files of tasks, under the exec root (a tmpfs on most hosts: never on disk), bound read-only.
  const filesRoot = path.join(engine.cfg.execRoot, 'task-files');
  return {
    ensureImage,
    useBlobSource: (s) => engine.registries.useBlobSource(s),
    async readBlob(digest: string, offset: number) {
      parseDigest(digest); // throws on anything but a digest: it names a file
      const info = await content.info(digest as Digest);
      if (!info) return undefined;
      return { size: info.size, stream: await content.stream(digest as Digest, offset ? { start: offset, end: info.size - 1 } : undefined) };
    },
    heldBlobs: async () => (await content.list()).map((b) => b.digest),
    onBlobChange: (listener) => content.onChange(listener),
    taskContainers(): TaskContainer[] {
      return c.store.all().flatMap((r) => {
        const taskId = r.Config.Labels?.[TASK_LABEL];
        if (!taskId) return [];
        const health = r.State.Health?.Status;
        return [{
          id: r.Id, taskId, running: r.State.Running, exited: r.State.Status === 'exited' || r.State.Status === 'dead', exitCode: r.State.ExitCode, error: r.State.Error,
          ...(health === 'starting' || health === 'healthy' || health === 'unhealthy' ? { health } : {}),
        }];
      });
    },
    async run(name: string, t: ContainerTemplate, labels: Record<string, string>, { taskId, endpoints, files, credentials }: { taskId: string; endpoints: TaskEndpoint[]; files: TaskFile[]; credentials?: Credentials }): Promise<string> {
      const exposed = Object.fromEntries((t.ports ?? []).map((p) => [`${p.target}/${p.protocol}`, {}]));
      const config = {
        Image: t.image, Labels: labels,
        ...(t.ports?.length ? { ExposedPorts: exposed } : {}),
        ...(t.command ? { Entrypoint: t.command } : {}), ...(t.args ? { Cmd: t.args } : {}), ...(t.env ? { Env: t.env } : {}),
        ...(t.workdir ? { WorkingDir: t.workdir } : {}), ...(t.user ? { User: t.user } : {}), ...(t.stopGraceSeconds !== undefined ? { StopTimeout: t.stopGraceSeconds } : {}),
        ...(t.healthcheck ? { Healthcheck: t.healthcheck } : {}),
      };
      // As swarm's nodes: an image this node lacks is pulled first.
      await ensureImage(t.image, credentials);
      const bound = files.length ? await writeTaskFiles(path.join(filesRoot, taskId), files) : [];
      const mounts = [...((t.mounts ?? []) as unknown as MountSpec[]), ...bound];
      const host = {
        ...(t.limits?.nanoCpus ? { NanoCpus: t.limits.nanoCpus } : {}), ...(t.limits?.memoryBytes ? { Memory: t.limits.memoryBytes } : {}),
        // Checked for their shape at the service's create; the engine checks the rest, as at docker run.
        ...(mounts.length ? { Mounts: mounts } : {}),
        ...(t.ports?.length ? { PortBindings: Object.fromEntries(t.ports.map((p) => [`${p.target}/${p.protocol}`, [{ HostIp: '', HostPort: p.published ? String(p.published) : '' }]])) } : {}),
        ...(endpoints.length ? { NetworkMode: endpoints[0].networkId } : {}),
      };
      const networks = Object.fromEntries(endpoints.map((e) => [e.networkId, { IPAMConfig: { IPv4Address: e.ip } }]));
      try {
        const { Id } = await c.create(name, config, host, networks);
        await c.start(Id);
        return Id;
      } catch (e) {
        // A container that could not be made holds no files; one made but not started is removed with them.
        if (!c.store.all().some((r) => r.Config.Labels?.[TASK_LABEL] === taskId)) await fsp.rm(path.join(filesRoot, taskId), { recursive: true, force: true });
        throw e;
      }
    },
    async ensureNetwork(spec: OverlaySpec) {
      await engine.networks.ensureOverlay(spec);
    },
    setNetworkPeers: (id, peers) => engine.networks.setOverlayPeers(id, peers.map((p) => ({ id: p.taskId, ip: p.ip, ...(p.vtep ? { vtep: p.vtep } : {}), names: p.names }))),
    localNetworks() {
      return engine.networks.store.all().filter((n) => n.Scope === 'swarm').map((n) => ({ id: n.Id, inUse: engine.networks.activeEndpoints(n.Id).length > 0 || c.networkUsers(n.Id).length > 0 }));
    },
    removeNetwork: (id) => engine.removeNetwork(id),
    stop: (id, grace) => c.stop(id, grace),
    async pruneTaskFiles(keep: Set<string>) {
      const dirs = await fsp.readdir(filesRoot).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [];
        throw e;
      });
      for (const d of dirs) if (!keep.has(d)) await fsp.rm(path.join(filesRoot, d), { recursive: true, force: true });
    },
    async remove(id) {
      const taskId = c.store.find(id)?.Config.Labels?.[TASK_LABEL];
      await c.remove(id, { force: true });
      if (taskId) await fsp.rm(path.join(filesRoot, taskId), { recursive: true, force: true });
    },
    logs(containerId, o, signal) {
      return containerLogs(c, containerId, o, signal);
    },
    async usage() {
      const tasks: Record<string, Counters> = {};
      for (const r of c.store.all()) {
        const taskId = r.Config.Labels?.[TASK_LABEL];
        // A container that ended between the listing and the read has nothing to count.
        if (taskId && r.State.Running) tasks[taskId] = await c.cgroupOf(r).usage().catch(() => ({ cpuNs: 0, memoryBytes: 0 }));
      }
      return { node: await c.parentCgroup().usage(), tasks };
    },
    onChange(changed) {
      return engine.events.subscribe((e) => {
        if (e.Type === 'container' && (e.Action === 'die' || e.Action === 'destroy' || e.Action.startsWith('health_status'))) changed();
      });
    },
  };
}

/** Each file written (owner and mode as given) in a folder of the task's own; the mounts that bind them read-only. */
async function writeTaskFiles(dir: string, files: TaskFile[]): Promise<MountSpec[]> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  // The folder is root's alone; each file is readable through its mount as its mode says.
  return Promise.all(files.map(async (f, i) => {
    const file = path.join(dir, String(i));
    await fsp.writeFile(file, f.data, { mode: 0o600 });
    await fsp.chown(file, f.uid, f.gid);
    await fsp.chmod(file, f.mode);
    return { Type: 'bind', Source: file, Target: f.target, ReadOnly: true } as MountSpec;
  }));
}
