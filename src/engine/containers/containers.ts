import { EventEmitter } from 'node:events';
import { existsSync, type FSWatcher, watch } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { run } from '../../base/exec';
import { BerthError, conflict, errorMessage, internal, invalidArgument, isErrno, notFound, notModified } from '../../base/errors';
import { atomicWriteJson, lstatIfExists, mkdirp, readdirIfExists, readFileIfExists } from '../../base/files';
import { KeyedLock } from '../../base/keyed-lock';
import type { Finding } from '../../base/finding';
import { isFullId, newId, randomName, shortId } from '../../base/ids';
import { Cgroup } from '../../runtime/cgroups';
import { ConmonStartError, startConmon } from '../../runtime/conmon';
import { cleanRuntimeMessage, OciRuntime } from '../../runtime/oci-runtime';
import { capabilitySet, parseDeviceRule } from '../../runtime/spec';
import { mountAll, unmountAll } from '../../snapshots/mount';
import type { ImageStore } from '../../images/store';
import type { EngineConfig } from '../config';
import type { ContainerStore } from './container-store';
import { useNetworkResolver, writePlaceholders } from './etc-files';
import type { EventBus } from '../system/events';
import { adaptHostConfig, layerSize, refuseUnrunnable, toResources, UPDATABLE, validateHostConfig } from './host-config';
import { which } from '../../base/which';
import { type Inventory, killMonitor } from '../system/leftovers';
import { LogRotator, type RotatedLog } from '../logs/log-rotator';
import { logLimits } from '../logs/logs';
import { type ContainerCreateConfig, mergeImageConfig, processArgs } from './merge';
import { linkString, parseLink } from './links';
import { ContainerSpecs, parseSecurityOpt, type RunMounts } from './container-spec';
import { type ContainerRecord, type EndpointSettings, type HostConfig, type MountPoint, STATUS_CREATED } from '../model';
import type { NetworkService } from '../networks/networks';
import { portRequests } from '../networks/ports';
import { bandwidthOf } from '../networks/shared-link';
import { planMounts, runtimeMounts } from './mounts';
import { parseSignal } from './signals';
import { probeCommand, validateHealthcheck } from './health-rules';
import type { VolumeStore } from '../volumes';
import type { DiskGuard } from '../system/disk-guard';
import { processAlive } from '../../base/procs';

/**
 * Log drivers by docker's names. All write conmon's k8s-file underneath (what
 * attach and logs read); json-file is reported by default, as dockerd does,
 * since SDKs read logs only from drivers they know (json-file, local, journald).
 */
const LOG_DRIVERS = ['json-file', 'local', 'k8s-file', 'none'];
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Runtime paths of one container, all under the exec root (gone at reboot, like the container). */
export function runPaths(execRoot: string, id: string) {
  const bundle = path.join(execRoot, 'containers', id);
  return {
    bundle,
    rootfs: path.join(bundle, 'rootfs'),
    persist: path.join(bundle, 'persist'),
    attach: path.join(bundle, 'attach'),
    ctl: path.join(bundle, 'ctl'),
    exitFile: path.join(execRoot, 'exits', id),
  };
}

/**
 * Containers: create, start, stop, kill, remove and the rest, over conmon
 * and an OCI runtime. One operation at a time per container; exits are
 * learned from conmon's exit files, so the daemon is never the parent of a
 * container and can restart without touching one.
 */
export class ContainerService {
  /** `start:<id>`, `exit:<id>`, `remove:<id>` for attach and wait. */
  readonly lifecycle = new EventEmitter();
  private readonly locks = new KeyedLock();
  private readonly specs: ContainerSpecs;
  private readonly runtimes: Map<string, OciRuntime>;
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private housekeeping?: NodeJS.Timeout;
  private readonly rotator: LogRotator;
  private exitWatcher?: FSWatcher;
  private closed = false;
  /** Final results of containers removed in the last minute, for a `wait` that arrives after --rm. */
  private readonly removedResults = new Map<string, { StatusCode: number; Error: { Message: string } | null; at: number }>();

  constructor(
    private readonly cfg: EngineConfig,
    readonly store: ContainerStore,
    private readonly images: ImageStore,
    private readonly volumes: VolumeStore,
    private readonly events: EventBus,
    readonly networks: NetworkService,
    private readonly disk: DiskGuard,
    runMounts?: RunMounts,
  ) {
    this.lifecycle.setMaxListeners(0);
    this.rotator = new LogRotator(() => this.rotatedLogs(), cfg.logger);
    this.runtimes = new Map(Object.entries(cfg.runtimes).map(([n, p]) => [n, new OciRuntime(n, p, path.join(cfg.execRoot, 'runtime', n))]));
    this.specs = new ContainerSpecs(cfg, store, networks, runMounts);
  }

  /** The init binary --init mounts is there. */
  get hasInit(): boolean {
    return existsSync(this.cfg.initPath);
  }

  get cfgExecRoot(): string {
    return this.cfg.execRoot;
  }

  private get exitDir() {
    return path.join(this.cfg.execRoot, 'exits');
  }

  runtimeOf(c: ContainerRecord): OciRuntime {
    const r = this.runtimes.get(c.runtime);
    if (!r) throw internal(`unknown runtime ${c.runtime}`);
    return r;
  }

  cgroupOf(c: ContainerRecord): Cgroup {
    return new Cgroup(path.posix.join(this.cfg.cgroupParent, c.Id));
  }

  /** The cgroup all this daemon's containers are under: what they use together. */
  parentCgroup(): Cgroup {
    return new Cgroup(this.cfg.cgroupParent);
  }

  logPath(c: ContainerRecord): string {
    return path.join(this.store.dir(c.Id), 'ctr.log');
  }

  /** The logs of running containers that rotate. */
  private rotatedLogs(): RotatedLog[] {
    return this.store.all().flatMap((c) => (c.State.Running ? (this.rotatedLog(c) ?? []) : []));
  }

  /** A container's log, if it rotates (max-size set, more than one file). */
  private rotatedLog(c: ContainerRecord): RotatedLog | undefined {
    if (c.logMaxSize <= 0 || c.logMaxFile <= 1) return undefined;
    return { id: c.Id, file: this.logPath(c), maxSize: c.logMaxSize, maxFile: c.logMaxFile };
  }

  /** Runs fn with the container locked against other lifecycle operations. */
  /** fn while no lifecycle operation runs on the container (docker cp into a stopped one). */
  whileLocked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.withLock(id, fn);
  }

  private withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  // ---- startup and shutdown -------------------------------------------------

  /** Watches exit files and reconciles containers with what conmon and the runtime say now. */
  async open(): Promise<void> {
    await mkdirp(this.exitDir, 0o700);
    this.exitWatcher = watch(this.exitDir, (_ev, file) => {
      if (file) void this.onExitFile(String(file));
    });
    this.exitWatcher.on('error', (e) => this.cfg.logger.error('exit watcher', { error: errorMessage(e) }));
    for (const c of this.store.all()) await this.reconcile(c);
    for (const f of await fsp.readdir(this.exitDir)) void this.onExitFile(f);
    // A check for conmons that died without an exit file.
    this.housekeeping = setInterval(() => void this.checkMonitors(), 500);
    this.housekeeping.unref();
    this.rotator.start();
  }

  close(): void {
    this.closed = true;
    this.exitWatcher?.close();
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.rotator.stop();
    for (const t of this.restartTimers.values()) clearTimeout(t);
  }

  /** What the runtime says of a container; a runtime that cannot answer is logged and taken as knowing nothing (the exit file or a lost state decides). */
  private runtimeState(c: ContainerRecord) {
    return this.runtimeOf(c).state(c.Id).catch((e) => {
      this.cfg.logger.warn('runtime state', { id: c.Id, error: errorMessage(e) });
      return undefined;
    });
  }

  private async reconcile(c: ContainerRecord): Promise<void> {
    if (!c.State.Running && !c.State.Restarting) return this.adoptStarted(c);
    if (!c.State.Running) {
      // The daemon went down during a restart back-off: the exit is recorded, only the restart is due.
      c.State = { ...c.State, Status: 'exited', Restarting: false };
      await this.store.save(c);
      this.maybeRestart(c, c.State.ExitCode, 0);
      return;
    }
    const state = await this.runtimeState(c);
    if (state && (state.status === 'running' || state.status === 'paused') && monitorAlive(c)) {
      c.State = { ...c.State, Pid: state.pid, Paused: state.status === 'paused', Status: state.status === 'paused' ? 'paused' : 'running' };
      await this.store.save(c);
      return;
    }
    if (await this.collectExit(c)) return;
    if (state && state.status !== 'stopped') {
      // Running without its monitor: nothing captures its output any more.
      await this.runtimeOf(c).kill(c.Id, 9, true).catch((e) => this.cfg.logger.warn('kill of a container whose monitor died', { id: c.Id, error: errorMessage(e) }));
      await this.finishExit(c, 137, 'container monitor (conmon) died');
      return;
    }
    // No runtime state and no exit file: the host rebooted or the exec root was wiped.
    await this.finishExit(c, 255, state ? 'container monitor (conmon) died' : 'container state lost (host restarted?)');
  }

  /**
   * The daemon died inside a start, after `runc start` and before the
   * record said so: when the container runs under its conmon, the start
   * happened. A half start (no conmon, or not started) is left to check().
   */
  private async adoptStarted(c: ContainerRecord): Promise<void> {
    const pidFile = path.join(runPaths(this.cfg.execRoot, c.Id).bundle, 'conmon.pid');
    const conmonPid = Number(await fsp.readFile(pidFile, 'utf8').catch(() => '0')) || undefined;
    if (!conmonPid || !monitorAlive({ conmonPid })) return;
    const state = await this.runtimeState(c);
    if (state?.status !== 'running') return;
    const startedAt = (await fsp.stat(pidFile)).mtime.toISOString();
    c.conmonPid = conmonPid;
    c.State = { ...c.State, Status: 'running', Running: true, Paused: false, Restarting: false, Dead: false, Pid: state.pid, ExitCode: 0, Error: '', StartedAt: startedAt };
    await this.store.save(c);
    this.cfg.logger.warn('adopted a container started just before the daemon died', { id: c.Id });
  }

  // ---- check ----------------------------------------------------------------

  /** The runtimes' state roots, by runtime name. */
  runtimeRoots(): Map<string, string> {
    return new Map([...this.runtimes].map(([n, r]) => [n, r.root]));
  }

  /** A lifecycle operation (or the create) of this id is under way. */
  isBusy(id: string): boolean {
    return this.locks.busy(id) || this.store.isCreating(id);
  }

  /** An active snapshot is a container's rootfs, or one being created. */
  ownsSnapshot(name: string): boolean {
    return this.store.byFullId(name) !== undefined || this.store.isCreating(name);
  }

  /**
   * What the host (conmons, runtime state, mounts, cgroups, bundles) and
   * the container folders hold that no container accounts for:
   * traces of containers that are unknown or not running, folders without
   * records, records whose rootfs is gone. (Exit files are the exit
   * watcher's: it collects or deletes each as it comes.)
   */
  async check(inv: Inventory): Promise<Finding[]> {
    const out: Finding[] = [];
    for (const [id, t] of inv.containers) {
      const c = this.store.byFullId(id);
      if (this.isBusy(id) || c?.State.Running || (!c && !isFullId(id))) continue;
      const whose = `of ${c ? 'a stopped' : 'an unknown'} container`;
      const repair = () => this.releaseRuntime(id, t.monitors);
      const add = (kind: string, subject: string, detail: string) => out.push({ kind, subject, detail: `${detail} ${whose}`, repair });
      for (const pid of t.monitors) add('monitor', id, `conmon (pid ${pid})`);
      for (const rt of t.states) add('runtime-state', id, `${rt} state`);
      for (const m of t.mounts) add('mount', m, 'the rootfs');
      if (t.cgroup) add('cgroup', path.posix.join(this.cfg.cgroupParent, id), 'the cgroup');
      if (t.bundle) add('bundle', runPaths(this.cfg.execRoot, id).bundle, 'the bundle folder');
    }
    for (const m of inv.strayMounts) out.push({ kind: 'mount', subject: m, detail: 'a mount under the data or exec root that no container made', repair: () => unmountAll(m) });
    for (const d of await fsp.readdir(this.store.root)) {
      if (this.store.byFullId(d) || this.store.isCreating(d)) continue;
      out.push({ kind: 'container-folder', subject: this.store.dir(d), detail: 'a container folder without its record', repair: () => fsp.rm(this.store.dir(d), { recursive: true, force: true }) });
    }
    for (const c of this.store.all()) {
      if (this.isBusy(c.Id) || (await this.images.snapshots.exists(c.Id))) continue;
      out.push({ kind: 'container', subject: c.Id, detail: 'a container without its root filesystem (a removal was cut short)', repair: () => this.remove(c.Id, { force: true }) });
    }
    return out;
  }

  /** Frees what a container that is not running left on the host. */
  private releaseRuntime(id: string, monitors: number[]): Promise<void> {
    return this.withLock(id, async () => {
      if (this.store.byFullId(id)?.State.Running) return;
      for (const pid of monitors) killMonitor(pid, id);
      await this.cleanupRuntime(id);
    });
  }

  /** Finds running containers whose conmon is gone without leaving an exit file. */
  private async checkMonitors(): Promise<void> {
    for (const c of this.store.all()) {
      if (!c.State.Running || monitorAlive(c)) continue;
      await this.withLock(c.Id, async () => {
        if (c.State.Running && !monitorAlive(c)) await this.reconcile(c);
      });
    }
  }

  /**
   * Waits (holding the container's lock) until the current run has exited,
   * and records the exit: from conmon's exit file, or as a kill when conmon
   * itself is gone. Returns false on timeout.
   */
  private async waitExitLocked(c: ContainerRecord, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 50)) {
      if (!c.State.Running || (await this.collectExit(c))) return true;
      if (!monitorAlive(c)) {
        await this.reconcile(c);
        return !c.State.Running;
      }
      if (Date.now() >= end) return false;
      await sleep(delay);
    }
  }

  // ---- create ---------------------------------------------------------------

  async create(nameArg: string | undefined, config: ContainerCreateConfig, asked: HostConfig = {}, endpoints: Record<string, Partial<EndpointSettings>> = {}): Promise<{ Id: string; Warnings: string[] }> {
    await this.disk.ensureRoom('create');
    const id = newId();
    const name = this.store.reserveName(nameArg || this.freeName(), id);
    const cleanup: (() => Promise<unknown>)[] = [async () => this.store.releaseName(name, id)];
    try {
      validateHostConfig(asked);
      // What the host lacks is discarded here, with docker's warnings; the record keeps what is in force.
      const { host, warnings } = adaptHostConfig(asked, this.cfg.host);
      const runtime = host.Runtime || this.cfg.defaultRuntime;
      if (!this.runtimes.has(runtime)) throw invalidArgument(`unknown or invalid runtime name: ${runtime}`);
      refuseUnrunnable(host, this.cfg.host, { runtime, init: host.Init ?? this.cfg.defaultInit, initBinary: this.hasInit, publishes: Object.keys(host.PortBindings ?? {}).length > 0 || !!host.PublishAllPorts });
      const logType = host.LogConfig?.Type || 'json-file';
      if (!LOG_DRIVERS.includes(logType)) throw invalidArgument(`logger: no log driver named '${logType}' is registered`);
      const limits = logLimits(host.LogConfig?.Config, this.cfg.log, logType);
      const netMode = host.NetworkMode || 'default';
      if (netMode.startsWith('container:')) this.store.get(netMode.slice('container:'.length));
      const networks = this.networks.planEndpoints(netMode, endpoints);
      // A cluster network is joined by the tasks of its services alone (swarm's label marks them): it is not attachable.
      for (const ep of Object.values(networks)) {
        const n = this.networks.store.find(ep.NetworkID);
        if (n?.Scope === 'swarm' && !config.Labels?.['com.docker.swarm.task.id']) throw new BerthError('forbidden', `Could not attach to network ${n.Name}: rpc error: code = PermissionDenied desc = network ${n.Name} not manually attachable`);
      }
      portRequests(host.PortBindings, config.ExposedPorts, false);
      for (const m of [host.IpcMode, host.PidMode, host.UTSMode]) if (m && m !== 'host' && m !== 'private' && m !== 'shareable') throw invalidArgument(`invalid namespace mode: ${m}`);
      for (const opt of host.SecurityOpt ?? []) parseSecurityOpt(opt);
      capabilitySet(!!host.Privileged, host.CapAdd ?? [], host.CapDrop ?? []);
      (host.DeviceCgroupRules ?? []).forEach(parseDeviceRule);
      // Legacy links name containers that exist (docker's message); kept as docker keeps them, /target:/name/alias.
      const links = (host.Links ?? []).map(parseLink);
      for (const l of links) {
        if (!this.store.find(l.target)) throw notFound(`could not get container for ${l.target}: No such container: ${l.target}`);
      }
      if (links.length) host.Links = links.map((l) => linkString(l, name.slice(1)));
      if (!config.Image) throw invalidArgument('Config.Image is required');
      validateHealthcheck(config.Healthcheck, host.HealthOnFailure);
      const share = bandwidthOf(host);
      if (share) this.networks.link.validate(share, host.NetworkMode);
      const size = layerSize(host);
      if (size && !which('mkfs.ext4')) throw invalidArgument('--storage-opt size needs mkfs.ext4 (Debian package e2fsprogs), which is not installed');
      if (config.MacAddress && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(config.MacAddress)) throw invalidArgument(`invalid MAC address: ${config.MacAddress}`);
      if (config.MacAddress && parseInt(config.MacAddress.slice(0, 2), 16) & 1) throw invalidArgument(`invalid MAC address ${config.MacAddress}: a multicast address cannot name an interface`);
      const imageRef = config.Image;
      // Shared with image writers: a layer collection cannot take the image's layers from under the new rootfs.
      const { image, merged } = await this.images.gate.shared(async () => {
        const image = await this.images.resolve(imageRef);
        const merged = mergeImageConfig(config, (await this.images.config(image.id)).config);
        await this.images.snapshots.prepare(id, await this.images.topSnapshot(image.id), undefined, { size });
        await writePlaceholders(this.images.snapshots.upperDir(id), await this.images.snapshots.lowerDirs(id));
        return { image, merged };
      });
      cleanup.push(() => this.images.snapshots.remove(id));
      if (host.HealthOnFailure && host.HealthOnFailure !== 'none' && !probeCommand(merged.Healthcheck, merged.Shell)) {
        throw invalidArgument(`--health-on-failure ${host.HealthOnFailure} needs a health check: give --health-cmd, or use an image with a HEALTHCHECK`);
      }
      const made: string[] = [];
      const { path: procPath, args } = processArgs(merged);
      const mounts = planMounts(host, merged.Volumes);

      for (const m of mounts) {
        if (m.Type !== 'volume') continue;
        const v = await this.volumes.create(m.Name, {}, {}, id);
        m.Name = v.Name;
        m.Source = v.Mountpoint;
        if (v.created) {
          made.push(v.Name);
          // As docker: an anonymous volume goes with a failed create, a named one stays.
          cleanup.push(() => (m.anonymous ? this.volumes.remove(v.Name, []) : this.volumes.commit(v.Name)));
        }
      }
      const rec: ContainerRecord = {
        Id: id,
        Name: name,
        Created: new Date().toISOString(),
        Path: procPath,
        Args: args,
        Image: image.id,
        Config: { ...merged, Hostname: config.Hostname || shortId(id), Image: config.Image, Tty: !!config.Tty, OpenStdin: !!config.OpenStdin, StdinOnce: !!config.StdinOnce },
        HostConfig: { NetworkMode: 'default', ...host, IpcMode: host.IpcMode || 'private', ShmSize: host.ShmSize || this.cfg.defaultShmSize, Runtime: runtime, LogConfig: { Type: logType, Config: sortedMap(host.LogConfig?.Config) } },
        State: { ...STATUS_CREATED },
        RestartCount: 0,
        Mounts: mounts,
        NetworkSettings: { Networks: networks },
        runtime,
        logMaxSize: limits.maxSize,
        logMaxFile: limits.maxFile,
      };
      await this.store.save(rec);
      cleanup.length = 0;
      // Saved: a commit that fails now leaves the volume pending for check() to commit.
      for (const v of made) await this.volumes.commit(v).catch((e) => this.cfg.logger.warn('volume commit', { volume: v, error: errorMessage(e) }));
      this.events.container('create', rec);
      return { Id: id, Warnings: warnings };
    } catch (e) {
      for (const undo of cleanup.reverse()) await undo().catch((err) => this.cfg.logger.warn('undo of a failed create (system check finds what is left)', { id, error: errorMessage(err) }));
      throw e;
    }
  }

  private freeName(): string {
    for (let i = 0; i < 100; i++) {
      const n = randomName() + (i > 10 ? `_${i}` : '');
      if (!this.store.nameTaken(n)) return n;
    }
    return newId().slice(0, 16);
  }

  // ---- start ----------------------------------------------------------------

  start(ref: string): Promise<void> {
    const c = this.store.get(ref);
    return this.withLock(c.Id, () => this.startLocked(c.Id));
  }

  private async startLocked(id: string): Promise<void> {
    const c = this.store.get(id);
    if (c.State.Paused) throw conflict(`cannot start a paused container, try unpause instead`);
    if (c.State.Running) throw notModified(`container ${id} is already started`);
    if (c.State.Status === 'removing' || c.State.Dead) throw conflict(`container ${id} is marked for removal and cannot be started`);
    this.clearRestartTimer(id);
    const p = runPaths(this.cfg.execRoot, id);
    const runtime = this.runtimeOf(c);
    await this.cleanupRuntime(c.Id);
    try {
      await mkdirp(p.persist);
      await mountAll(await this.images.snapshots.mounts(id), p.rootfs);
      const sandbox = await this.networks.attach(c);
      const spec = await this.specs.build(c, p.rootfs, sandbox, runtimeMounts(await this.resolveVolumes(c, p.rootfs)));
      await atomicWriteJson(path.join(p.bundle, 'config.json'), spec);
      await fsp.rm(p.exitFile, { force: true });
      // conmon starts a new file at max-size; the daemon moves each into the history (LogRotator).
      const conmonCap = c.logMaxSize;
      const { pid } = await startConmon({
        conmonPath: this.cfg.conmonPath, runtimePath: runtime.path, runtimeRoot: runtime.root, containerId: id, sessionId: id,
        name: c.Name.slice(1), bundle: p.bundle, pidFile: path.join(p.bundle, 'pidfile'), conmonPidFile: path.join(p.bundle, 'conmon.pid'),
        exitDir: this.exitDir, persistDir: p.persist, logPath: this.logPath(c), logSizeMax: conmonCap,
        // StdinOnce closes stdin when the client leaves, but not a terminal's, as dockerd: `run -it` then a detach, and a later attach types on.
        tty: !!c.Config.Tty, stdin: !!c.Config.OpenStdin, leaveStdinOpen: !c.Config.StdinOnce || !!c.Config.Tty,
      });
      const log = this.rotatedLog(c);
      if (log) this.rotator.watch(log);
      await runtime.start(id);
      c.conmonPid = Number(await fsp.readFile(path.join(p.bundle, 'conmon.pid'), 'utf8').catch(() => '0')) || undefined;
      c.State = { ...c.State, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString() };
      c.stoppedByUser = false;
      await this.store.save(c);
      this.events.container('start', c);
      this.lifecycle.emit(`start:${id}`);
    } catch (e) {
      await this.cleanupRuntime(c.Id).catch((err) => this.cfg.logger.warn('cleanup of a failed start (system check finds what is left)', { id, error: errorMessage(err) }));
      const msg = e instanceof ConmonStartError ? cleanRuntimeMessage(e.runtimeMessage) : errorMessage(e);
      const exitCode = /executable file not found|no such file or directory/i.test(msg) ? 127 : /permission denied/i.test(msg) ? 126 : 128;
      c.State = { ...c.State, Status: c.State.StartedAt === ZERO_TIME ? 'created' : 'exited', Running: false, Pid: 0, ExitCode: exitCode, Error: msg };
      await this.store.save(c);
      // Attached clients and waiters learn of the failed start as of an exit.
      this.lifecycle.emit(`exit:${id}`, exitCode);
      if (c.HostConfig.AutoRemove) await this.removeLocked(id, { force: true, volumes: true }).catch((err) => this.cfg.logger.warn('--rm after a failed start', { id, error: errorMessage(err) }));
      if (e instanceof BerthError) throw e;
      const code = exitCode === 128 ? 'internal' : 'invalid_argument';
      throw new BerthError(code, `failed to create task for container: OCI runtime create failed: ${msg}: unknown`, { cause: e });
    }
  }

  /** `docker rm --link /container/alias`: the link goes, both containers stay. */
  removeLink(spec: string): Promise<void> {
    const m = /^\/?([^/]+)\/([^/]+)$/.exec(spec);
    if (!m) throw invalidArgument(`Conflict, cannot remove the default link name: ${spec}`);
    const c = this.store.get(m[1]);
    return this.withLock(c.Id, async () => {
      const links = c.HostConfig.Links ?? [];
      const kept = links.filter((x) => parseLink(x).alias !== m[2]);
      if (kept.length === links.length) throw notFound(`Could not find entity for ${spec}`);
      c.HostConfig = { ...c.HostConfig, Links: kept.length ? kept : null };
      await this.store.save(c);
    });
  }

  /** Fills volume sources and, on a volume's first use, copies the image's files into it (as docker does). */
  private async resolveVolumes(c: ContainerRecord, rootfs: string): Promise<MountPoint[]> {
    for (const m of c.Mounts) {
      if (m.Type === 'bind') {
        await fsp.mkdir(m.Source, { recursive: true }).catch((e) => {
          if (!isErrno(e, 'EEXIST')) throw e;
        });
      }
      if (m.Type !== 'volume' || m.noCopy) continue;
      const data = m.Source;
      const empty = (await readdirIfExists(data)).length === 0;
      const from = path.join(rootfs, m.Destination);
      const st = await lstatIfExists(from);
      if (empty && st?.isDirectory()) await run('cp', ['-a', '--', `${from}/.`, `${data}/`]);
    }
    return c.Mounts;
  }

  // ---- exits ----------------------------------------------------------------

  private async onExitFile(id: string): Promise<void> {
    // conmon writes `<id>.XXXXXX` and renames it to `<id>`: the temporary
    // file is not ours to touch, or the exit is lost.
    if (this.closed || !isFullId(id)) return;
    const c = this.store.find(id);
    const file = path.join(this.exitDir, id);
    if (!c) {
      await fsp.rm(file, { force: true });
      return;
    }
    await this.withLock(c.Id, () => this.collectExit(c));
  }

  /** Records the current run's exit if conmon has written its exit file; false when it has not (yet). */
  private async collectExit(c: ContainerRecord): Promise<boolean> {
    if (!c.State.Running) return false;
    const text = await readFileIfExists(runPaths(this.cfg.execRoot, c.Id).exitFile);
    if (text === undefined) return false;
    await this.finishExit(c, Number(text.trim()) || 0);
    return true;
  }

  /** Records an exit, frees runtime resources, and applies --rm or the restart policy. */
  private async finishExit(c: ContainerRecord, exitCode: number, error = ''): Promise<void> {
    // A cgroup already gone tells of no OOM kill; the exit is recorded all the same.
    const oom = (await this.cgroupOf(c).oomKills().catch(() => 0)) > 0;
    await this.cleanupRuntime(c.Id);
    const startedAt = Date.parse(c.State.StartedAt);
    c.State = { ...c.State, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: exitCode, Error: error, OOMKilled: oom, FinishedAt: new Date().toISOString() };
    await this.store.save(c);
    if (oom) this.events.container('oom', c);
    this.events.container('die', c, { exitCode: String(exitCode) });
    this.lifecycle.emit(`exit:${c.Id}`, exitCode);
    if (c.HostConfig.AutoRemove) {
      await this.removeLocked(c.Id, { force: true, volumes: true }).catch((e) => this.cfg.logger.error('auto-remove failed', { id: c.Id, error: errorMessage(e) }));
      return;
    }
    this.maybeRestart(c, exitCode, Date.now() - startedAt);
  }

  /** Docker's restart policies with a growing back-off (100 ms doubling, reset after 10 s of running, at most 1 min). */
  private maybeRestart(c: ContainerRecord, exitCode: number, ranMs: number): void {
    const p = c.HostConfig.RestartPolicy ?? {};
    const name = p.Name ?? 'no';
    let restart = false;
    if (name === 'always') restart = !c.stoppedByUser;
    else if (name === 'unless-stopped') restart = !c.stoppedByUser;
    else if (name === 'on-failure') restart = exitCode !== 0 && !c.stoppedByUser && (!p.MaximumRetryCount || c.RestartCount < p.MaximumRetryCount);
    if (!restart || this.closed) return;
    const backoff = ranMs >= 10_000 ? 100 : Math.min(60_000, 100 * 2 ** Math.min(c.RestartCount, 10));
    c.State = { ...c.State, Status: 'restarting', Restarting: true };
    void this.store.save(c);
    const t = setTimeout(() => {
      this.restartTimers.delete(c.Id);
      void this.withLock(c.Id, async () => {
        const cur = this.store.find(c.Id);
        if (!cur || !cur.State.Restarting) return;
        cur.RestartCount++;
        cur.State = { ...cur.State, Restarting: false };
        this.events.container('restart', cur);
        await this.startLocked(cur.Id);
      }).catch((e) => this.cfg.logger.warn('restart failed', { id: c.Id, error: errorMessage(e) }));
    }, backoff);
    this.restartTimers.set(c.Id, t);
  }

  private clearRestartTimer(id: string): void {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }

  /** Removes the runtime's container (in any runtime), the rootfs mount, the bundle and the cgroup; idempotent. */
  private async cleanupRuntime(id: string): Promise<void> {
    const p = runPaths(this.cfg.execRoot, id);
    for (const rt of this.runtimes.values()) await rt.delete(id, true).catch((e) => this.cfg.logger.warn('runtime delete', { id, error: errorMessage(e) }));
    await unmountAll(p.rootfs);
    await fsp.rm(p.bundle, { recursive: true, force: true });
    await fsp.rm(p.exitFile, { force: true });
    await this.networks.detach(id);
    // A cgroup that will not go (a process still in it) is logged; system check names it and removes it later.
    const cg = new Cgroup(path.posix.join(this.cfg.cgroupParent, id));
    await cg.remove().catch((e) => this.cfg.logger.warn('cgroup removal', { id, paths: cg.existing().join(' '), error: errorMessage(e) }));
  }

  // ---- stop, kill, wait, restart, pause ---------------------------------------

  /** Resolves when the container's current run has been recorded as exited. */
  private exited(id: string): Promise<number> {
    return new Promise((res) => this.lifecycle.once(`exit:${id}`, res));
  }

  stop(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    const c = this.store.get(ref);
    return this.withLock(c.Id, async () => {
      this.clearRestartTimer(c.Id);
      if (c.State.Restarting) {
        c.State = { ...c.State, Restarting: false, Status: 'exited' };
        c.stoppedByUser = true;
        return this.store.save(c);
      }
      if (!c.State.Running) throw notModified(`container ${c.Id} is not running`);
      await this.stopLocked(c, timeoutSec, signal);
    });
  }

  /** Stop signal, then SIGKILL after the timeout; returns when the exit is recorded. */
  private async stopLocked(c: ContainerRecord, timeoutSec?: number, signal?: string): Promise<void> {
    c.stoppedByUser = true;
    await this.store.save(c);
    const sig = parseSignal(signal ?? c.Config.StopSignal, 15);
    const t = timeoutSec ?? c.Config.StopTimeout ?? 10;
    await this.signal(c, sig);
    if (!(await this.waitExitLocked(c, t < 0 ? 2 ** 31 : t * 1000))) {
      await this.signal(c, 9);
      if (!(await this.waitExitLocked(c, 30_000))) throw internal(`container ${c.Id} did not exit after SIGKILL`);
    }
    this.events.container('stop', c);
  }

  private async signal(c: ContainerRecord, sig: number): Promise<void> {
    const rt = this.runtimeOf(c);
    await rt.kill(c.Id, sig, sig === 9).catch((e) => {
      if (!(e instanceof BerthError && (e.code === 'not_found' || e.code === 'conflict'))) throw e;
    });
    // A frozen process cannot act on a signal: thaw it. Not paused any more, or gone: nothing to thaw; any other failure leaves it paused, and says so.
    if (c.State.Paused) {
      await rt.resume(c.Id).catch((e) => {
        if (!(e instanceof BerthError && (e.code === 'conflict' || e.code === 'not_found'))) throw e;
      });
      c.State = { ...c.State, Paused: false, Status: 'running' };
    }
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const c = this.store.get(ref);
    const sig = parseSignal(signal, 9);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (sig === 9 || sig === parseSignal(c.Config.StopSignal, 15)) {
      c.stoppedByUser = true;
      await this.store.save(c);
    }
    await this.signal(c, sig);
    this.events.container('kill', c, { signal: String(sig) });
    // As dockerd: after a SIGKILL the answer waits for the death, so an inspect right after sees it exited.
    if (sig === 9) await this.withLock(c.Id, () => this.waitExitLocked(c, 30_000));
  }

  /**
   * `--health-on-failure kill`: SIGKILL as a failure of the container, not
   * a stop by its user, so its restart policy restarts it (an unhealthy
   * container counts as failed: exit 137).
   */
  async killUnhealthy(id: string): Promise<void> {
    const c = this.store.get(id);
    if (!c.State.Running) return;
    await this.signal(c, 9);
    this.events.container('kill', c, { signal: '9' });
    await this.withLock(c.Id, () => this.waitExitLocked(c, 30_000));
  }

  /** docker wait: conditions not-running (default), next-exit, removed. */
  async wait(ref: string, condition = 'not-running'): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const gone = this.removedResults.get(ref);
    if (gone && !this.store.find(ref)) return { StatusCode: gone.StatusCode, Error: gone.Error };
    const c = this.store.get(ref);
    const result = () => ({ StatusCode: c.State.ExitCode, Error: c.State.Error ? { Message: c.State.Error } : null });
    if (condition === 'removed') {
      await new Promise((res) => this.lifecycle.once(`remove:${c.Id}`, res));
      return result();
    }
    if (condition === 'not-running' && !c.State.Running && !c.State.Restarting) return result();
    if (!['not-running', 'next-exit'].includes(condition)) throw invalidArgument(`invalid condition: ${condition}`);
    await this.exited(c.Id);
    return result();
  }

  /** `restart`; an automatic one (`--health-on-failure restart`) counts in RestartCount, as the restart policy's do. */
  async restart(ref: string, timeoutSec?: number, automatic = false): Promise<void> {
    const c = this.store.get(ref);
    await this.withLock(c.Id, async () => {
      this.clearRestartTimer(c.Id);
      if (c.State.Running) await this.stopLocked(c, timeoutSec);
      c.State = { ...c.State, Restarting: false };
      if (automatic) c.RestartCount++;
      await this.startLocked(c.Id);
    });
    this.events.container('restart', c);
  }

  async pause(ref: string): Promise<void> {
    const c = this.store.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    if (c.State.Paused) throw conflict(`Container ${c.Id} is already paused`);
    await this.runtimeOf(c).pause(c.Id);
    c.State = { ...c.State, Paused: true, Status: 'paused' };
    await this.store.save(c);
    this.events.container('pause', c);
  }

  async unpause(ref: string): Promise<void> {
    const c = this.store.get(ref);
    if (!c.State.Paused) throw conflict(`Container ${c.Id} is not paused`);
    await this.runtimeOf(c).resume(c.Id);
    c.State = { ...c.State, Paused: false, Status: 'running' };
    await this.store.save(c);
    this.events.container('unpause', c);
  }

  // ---- remove, rename, update ---------------------------------------------------

  remove(ref: string, o: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.store.get(ref);
    return this.withLock(c.Id, () => this.removeLocked(c.Id, o));
  }

  private async removeLocked(id: string, o: { force?: boolean; volumes?: boolean }): Promise<void> {
    const c = this.store.find(id);
    if (!c) return;
    if (c.State.Status === 'removing') throw conflict(`removal of container ${id} is already in progress`);
    if ((c.State.Running || c.State.Restarting) && !o.force) {
      const what = c.State.Paused ? 'paused' : c.State.Restarting ? 'restarting' : 'running';
      throw conflict(`You cannot remove a ${what} container ${id}. ${c.State.Paused ? 'Unpause and then stop' : 'Stop'} the container before attempting removal or force remove`);
    }
    this.clearRestartTimer(id);
    if (c.State.Running) {
      c.stoppedByUser = true;
      c.HostConfig = { ...c.HostConfig, AutoRemove: false };
      await this.signal(c, 9);
      if (!(await this.waitExitLocked(c, 30_000))) throw internal(`container ${id} did not exit after SIGKILL`);
    }
    c.State = { ...c.State, Status: 'removing' };
    await this.cleanupRuntime(c.Id);
    await this.images.snapshots.remove(id).catch((e) => {
      if (!(e instanceof BerthError && e.code === 'not_found')) throw e;
    });
    await this.store.delete(c);
    if (o.volumes) {
      for (const m of c.Mounts) {
        if (m.Type === 'volume' && m.anonymous && m.Name) {
          await this.volumes.remove(m.Name, this.volumeUsers(m.Name)).catch((e) => this.cfg.logger.warn('volume remove', { volume: m.Name, error: errorMessage(e) }));
        }
      }
    }
    this.events.container('destroy', c);
    const now = Date.now();
    for (const [k, v] of this.removedResults) if (now - v.at > 60_000) this.removedResults.delete(k);
    this.removedResults.set(id, { StatusCode: c.State.ExitCode, Error: c.State.Error ? { Message: c.State.Error } : null, at: now });
    this.lifecycle.emit(`remove:${id}`);
  }

  /** Containers that mount a volume. */
  volumeUsers(name: string): string[] {
    return this.store.all().filter((c) => c.Mounts.some((m) => m.Type === 'volume' && m.Name === name)).map((c) => c.Id);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.store.get(ref);
    if (!newName) throw invalidArgument('Neither old nor new names may be empty');
    const old = c.Name;
    const n = this.store.reserveName(newName, c.Id);
    if (n === old) throw invalidArgument(`Renaming a container with the same name as its current name`);
    c.Name = n;
    await this.store.save(c);
    this.store.releaseName(old, c.Id);
    await this.networks.renamed(c.Id, old.slice(1), n.slice(1));
    this.events.container('rename', c, { oldName: old });
  }

  async update(ref: string, patch: HostConfig): Promise<{ Warnings: string[] }> {
    const c = this.store.get(ref);
    return this.withLock(c.Id, async () => {
      const changes: HostConfig = {};
      // 0 means "not given" in docker's update body; a rate of 0 (Berth's own fields) lifts the limit.
      const zeroMeans = (k: string) => k === 'NetworkIngressRate' || k === 'NetworkEgressRate';
      for (const k of UPDATABLE) if (patch[k] !== undefined && patch[k] !== null && !(typeof patch[k] === 'number' && patch[k] === 0 && !zeroMeans(k))) (changes as Record<string, unknown>)[k] = patch[k];
      if (patch.RestartPolicy && !patch.RestartPolicy.Name) delete changes.RestartPolicy;
      const next: HostConfig = { ...c.HostConfig, ...changes };
      if (changes.Memory && !changes.MemorySwap && c.HostConfig.MemorySwap && c.HostConfig.MemorySwap > 0 && c.HostConfig.MemorySwap < changes.Memory) {
        throw invalidArgument('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      }
      validateHostConfig(next);
      const { host, warnings } = adaptHostConfig(next, this.cfg.host, { update: true });
      const rates = host.NetworkIngressRate !== c.HostConfig.NetworkIngressRate || host.NetworkEgressRate !== c.HostConfig.NetworkEgressRate;
      const share = bandwidthOf(host);
      const shareChanged = JSON.stringify(share) !== JSON.stringify(bandwidthOf(c.HostConfig));
      // A share that cannot be given changes nothing: refused before the runtime is touched.
      if (share && shareChanged) {
        this.networks.link.validate(share, host.NetworkMode);
        if (c.State.Running) this.networks.link.admit(c.Id, share);
      }
      if (c.State.Running) {
        try {
          await this.runtimeOf(c).update(c.Id, toResources(host, this.cfg.host));
        } catch (e) {
          throw invalidArgument(`Cannot update container ${c.Id}: ${errorMessage(e)}`);
        }
        if (rates) await this.networks.updateBandwidth({ ...c, HostConfig: host });
        if (shareChanged) await this.networks.updateShare({ ...c, HostConfig: host });
      }
      c.HostConfig = host;
      await this.store.save(c);
      this.events.container('update', c);
      return { Warnings: warnings };
    });
  }

  // ---- networks -----------------------------------------------------------------

  /** `network connect`: the container joins a network, at once when it runs. */
  connect(ref: string, network: string, want: Partial<EndpointSettings> = {}): Promise<void> {
    const c = this.store.get(ref);
    return this.withLock(c.Id, async () => {
      const n = this.networks.store.get(network);
      const mode = c.HostConfig.NetworkMode ?? 'default';
      if (mode === 'host' || mode.startsWith('container:')) throw new BerthError('forbidden', `container sharing network namespace with another container or host cannot be connected to any other network`);
      if (mode === 'none') throw new BerthError('forbidden', 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
      if (n.Scope === 'swarm') throw new BerthError('forbidden', `Could not attach to network ${n.Name}: rpc error: code = PermissionDenied desc = network ${n.Name} not manually attachable`);
      if (n.Driver !== 'bridge') throw new BerthError('forbidden', `container cannot be connected to ${n.Name} together with other networks`);
      const nets = c.NetworkSettings?.Networks ?? {};
      if (nets[n.Name]) throw new BerthError('forbidden', `endpoint with name ${c.Name.slice(1)} already exists in network ${n.Name}`);
      const ep = this.networks.endpointFor(n, want);
      if (c.State.Running) {
        const nameserver = await this.networks.connectRunning({ ...c, NetworkSettings: { Networks: { ...nets, [n.Name]: ep } } }, n, ep);
        const h = c.HostConfig;
        if (nameserver) await useNetworkResolver(this.store.dir(c.Id), { dns: h.Dns ?? [], dnsSearch: h.DnsSearch ?? [], dnsOptions: h.DnsOptions ?? [] }, nameserver);
      }
      c.NetworkSettings = { Networks: { ...nets, [n.Name]: ep } };
      await this.store.save(c);
      this.events.publish('network', 'connect', n.Id, { container: c.Id, name: n.Name, type: 'bridge' });
    });
  }

  /** `network disconnect`. */
  disconnect(ref: string, network: string, force = false): Promise<void> {
    const c = this.store.get(ref);
    return this.withLock(c.Id, async () => {
      const n = this.networks.store.find(network);
      const nets = { ...(c.NetworkSettings?.Networks ?? {}) };
      const name = n?.Name ?? network;
      // As dockerd, forced or not; force is for an endpoint whose network is gone.
      if (!nets[name]) throw new BerthError('forbidden', `container ${c.Id} is not connected to the network ${name}`);
      if (!n && !force) throw notFound(`network ${network} not found`);
      if (n?.Driver === 'host') throw new BerthError('forbidden', 'container cannot be disconnected from host network or connected to host network');
      if (c.State.Running && n) await this.networks.disconnectRunning(c, n);
      delete nets[name];
      // As docker, the network mode stays: a container left on no network has loopback only until it is connected again.
      c.NetworkSettings = { Networks: nets };
      await this.store.save(c);
      if (n) this.events.publish('network', 'disconnect', n.Id, { container: c.Id, name: n.Name, type: 'bridge' });
    });
  }

  /** Containers whose record names the network (running or not). */
  networkUsers(networkId: string): string[] {
    return this.store.all().filter((c) => Object.values(c.NetworkSettings?.Networks ?? {}).some((e) => e.NetworkID === networkId)).map((c) => c.Id);
  }

  // ---- observation ------------------------------------------------------------

  /** docker top: `ps` on the host, limited to the container's processes. */
  async top(ref: string, psArgs = '-ef'): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.store.get(ref);
    if (!c.State.Running) throw conflict(`Container ${c.Id} is not running`);
    const pids = new Set((await this.runtimeOf(c).ps(c.Id)).map(String));
    const { stdout } = await run('ps', psArgs.split(/\s+/).filter(Boolean)).catch((e) => {
      throw invalidArgument(`Error running top: ${errorMessage(e)}`);
    });
    const lines = stdout.trimEnd().split('\n');
    const titles = lines[0].trim().split(/\s+/);
    const pidCol = titles.indexOf('PID');
    if (pidCol < 0) throw invalidArgument(`Couldn't find PID field in ps output`);
    const procs = lines.slice(1).map((l) => {
      const f = l.trim().split(/\s+/);
      return [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
    });
    return { Titles: titles, Processes: procs.filter((p) => pids.has(p[pidCol])) };
  }


}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Is the conmon of this container's current run alive? */
function monitorAlive(c: Pick<ContainerRecord, 'conmonPid'>): boolean {
  return !c.conmonPid || processAlive(c.conmonPid);
}

/** A map as Go's encoding/json writes one, keys in order: inspect then reads as dockerd's. */
function sortedMap(m: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
