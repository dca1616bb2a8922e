import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { hostProcesses, mountPoints } from '../../base/procs';
import { Cgroup } from '../../runtime/cgroups';
import { type ConmonProcess, parseConmonArgv } from '../../runtime/conmon';
import { readdirIfExists } from '../../base/files';

/** What the host holds for one container id of this daemon. */
export interface RuntimeTraces {
  bundle: boolean;
  /** Runtimes (runc, crun) that keep state for it. */
  states: string[];
  cgroup: boolean;
  monitors: number[];
  mounts: string[];
}

export interface Inventory {
  containers: Map<string, RuntimeTraces>;
  /** conmons of exec sessions, by session folder. */
  execMonitors: ConmonProcess[];
  /** Session folders under <exec root>/exec. */
  execFolders: string[];
  /** Mounts under the data or exec root that belong to no container bundle. */
  strayMounts: string[];
}

/**
 * Takes stock of what this daemon's containers leave on the host: bundles,
 * runtime state, cgroups, conmons and mounts, by container id.
 * The stores compare it with their records to find what nothing accounts for.
 */
export async function takeInventory(o: { dataRoot: string; execRoot: string; runtimeRoots: Map<string, string>; cgroupParent: string }): Promise<Inventory> {
  const containers = new Map<string, RuntimeTraces>();
  const of = (id: string) => {
    let t = containers.get(id);
    if (!t) containers.set(id, (t = { bundle: false, states: [], cgroup: false, monitors: [], mounts: [] }));
    return t;
  };
  const bundles = path.join(o.execRoot, 'containers');
  for (const id of await readdirOrEmpty(bundles)) of(id).bundle = true;
  for (const [name, root] of o.runtimeRoots) for (const id of await readdirOrEmpty(root)) of(id).states.push(name);
  for (const id of Cgroup.children(o.cgroupParent)) of(id).cgroup = true;
  const execMonitors: ConmonProcess[] = [];
  for (const p of hostProcesses()) {
    const m = parseConmonArgv(p.pid, p.argv);
    if (!m) continue;
    if (path.dirname(m.bundle) === bundles) of(m.containerId).monitors.push(m.pid);
    else if (path.dirname(m.bundle) === path.join(o.execRoot, 'exec')) execMonitors.push(m);
  }
  const strayMounts: string[] = [];
  // Namespace files are the network service's, views the Views', lxcfs's mount the ProcView's: each minds its own.
  const own = ['netns', 'views', 'lxcfs'].map((d) => path.join(o.execRoot, d) + '/');
  // Sized layers' vdisks are the snapshotter's (it mounts them, and unmounts those of snapshots gone).
  const vdisks = path.join(o.dataRoot, 'snapshots') + '/';
  for (const m of mountPoints()) {
    if (own.some((d) => m.startsWith(d))) continue;
    if (m.startsWith(vdisks) && path.basename(m) === 'vd') continue;
    if (m.startsWith(bundles + '/')) of(m.slice(bundles.length + 1).split('/')[0]).mounts.push(m);
    else if ([o.dataRoot, o.execRoot].some((r) => m.startsWith(r + '/'))) strayMounts.push(m);
  }
  const execFolders = await readdirOrEmpty(path.join(o.execRoot, 'exec'));
  return { containers, execMonitors, execFolders, strayMounts };
}

/** SIGKILLs a conmon, if `pid` is still the conmon of that container or session. */
export function killMonitor(pid: number, containerId: string, sessionId = containerId): void {
  const argv = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return [];
    }
  })();
  const m = parseConmonArgv(pid, argv);
  if (!m || m.containerId !== containerId || m.sessionId !== sessionId) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return readdirIfExists(dir);
}
