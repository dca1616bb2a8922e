import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorMessage, invalidArgument, notFound } from '../base/errors';
import { mkdirp } from '../base/files';
import { ContentStore } from '../content/store';
import { ImageStore } from '../images/store';
import { normalize } from '../oci/reference';
import { HostFs } from '../host/host-fs';
import { type InterfaceCounters, parseNetDev } from '../network/counters';
import { netSysctls } from '../host/kernel';
import { type DaemonParts, hostReport, type HostReportRow, infoWarnings } from '../host/report';
import { OverlaySnapshotter } from '../snapshots/snapshotter';
import { type CheckOptions, checkSystem, inventoryOf, type Problem } from './system/check';
import type { EngineConfig } from './config';
import { ContainerStore } from './containers/container-store';
import { ContainerService, runPaths } from './containers/containers';
import { inspectConfig, inspectHostConfig } from './system/docker-shape';
import { EventBus } from './system/events';
import { DiskGuard } from './system/disk-guard';
import { ProcView } from './system/proc-view';
import { ExecService } from './containers/execs';
import { HealthMonitor } from './containers/health';
import { ProbeAgents } from './containers/probe-agents';
import { countBlockIo } from '../runtime/cgroups';
import type { Mount } from '../oci/runtime-spec';
import { ImageService } from './images/images';
import { Registries } from './images/registries';
import type { ContainerRecord } from './model';
import { type NetworkCreateRequest, type NetworkRecord, PREDEFINED } from './networks/network-store';
import { ContainerImages } from './rootfs/commit';
import { BuildService } from './images/builds';
import { ContainerFiles } from './rootfs/files';
import { Views } from './rootfs/views';
import { NetworkService } from './networks/networks';
import { portMap } from './networks/ports';
import { commandText, labelMatches, parseFilters, statusText } from './system/present';
import { ANONYMOUS_LABEL, VolumeStore } from './volumes';

export const BERTH_VERSION = '0.1.0';

/** The engine: every store and service of one data root, wired once. */
export class Engine {
  private constructor(
    readonly cfg: EngineConfig,
    readonly events: EventBus,
    readonly containers: ContainerService,
    readonly execs: ExecService,
    readonly images: ImageService,
    readonly volumes: VolumeStore,
    readonly networks: NetworkService,
    readonly containerImages: ContainerImages,
    readonly files: ContainerFiles,
    readonly views: Views,
    readonly builds: BuildService,
    readonly registries: Registries,
    readonly health: HealthMonitor,
    readonly procView: ProcView,
    private readonly agents: ProbeAgents,
  ) {}

  static async open(cfg: EngineConfig): Promise<Engine> {
    await mkdirp(cfg.dataRoot, 0o711);
    await mkdirp(cfg.execRoot, 0o700);
    const content = await ContentStore.open(path.join(cfg.dataRoot, 'content'));
    const snapshots = await OverlaySnapshotter.open(path.join(cfg.dataRoot, 'snapshots'));
    const imageStore = await ImageStore.open(path.join(cfg.dataRoot, 'images'), content, snapshots);
    const containerStore = await ContainerStore.open(path.join(cfg.dataRoot, 'containers'));
    const volumes = await VolumeStore.open(path.join(cfg.dataRoot, 'volumes'));
    const events = new EventBus();
    const networks = await NetworkService.open(cfg.dataRoot, cfg.execRoot, cfg.network, cfg.logger);
    const disk = new DiskGuard(cfg.dataRoot, cfg.minFree);
    await countBlockIo(cfg.cgroupParent, cfg.dataRoot).catch((e) => cfg.logger.warn('block I/O of containers may read 0 (blk-throttle not on for the data root\'s disk)', { error: errorMessage(e) }));
    const viewers = () => containerStore.all().flatMap((c) => (c.State.Running && c.procView && c.State.Pid ? [c.State.Pid] : []));
    const procView = new ProcView(path.join(cfg.execRoot, 'lxcfs'), cfg.procView.lxcfsPath, cfg.procView.wanted, cfg.logger, viewers);
    await procView.open().catch((e) => cfg.logger.error('lxcfs: containers see the host\'s /proc', { error: errorMessage(e) }));
    const agents = new ProbeAgents(path.join(cfg.execRoot, 'probe-agent'), cfg.probeAgent, cfg.logger);
    await agents.open();
    const runMounts = { procViews: () => procView.mounts(), probeAgent: (c: ContainerRecord, mounts: Mount[]) => agents.mountFor(c, mounts) };
    const containers = new ContainerService(cfg, containerStore, imageStore, volumes, events, networks, disk, runMounts);
    const execs = new ExecService(cfg, containers, events, agents);
    const images = new ImageService(imageStore, containerStore, events);
    await containers.open();
    const views = new Views(path.join(cfg.execRoot, 'views'));
    const registries = new Registries(imageStore, events, cfg.registries, disk, cfg.logger);
    const builds = new BuildService(cfg, containers, imageStore, views, events, registries, disk);
    const health = new HealthMonitor(containers, execs, events, cfg.logger, path.join(cfg.dataRoot, 'health.json'));
    const engine = new Engine(cfg, events, containers, execs, images, volumes, networks, new ContainerImages(cfg, containers, imageStore, events, views), new ContainerFiles(containers, imageStore, views), views, builds, registries, health, procView, agents);
    await execs.restore(await inventoryOf({ cfg, containers }));
    await health.open();
    networks.watchFirewall((id) => containers.isBusy(id));
    // What a crash left (half-made objects, runtime traces of stopped containers) goes before the first request.
    for (const p of await engine.check({ repair: true, tempAgeMs: 0 })) cfg.logger.warn('repaired at start-up', { ...p });
    return engine;
  }

  /** `system check`: orphans and broken records, and with repair, their removal. */
  check(o: CheckOptions): Promise<Problem[]> {
    return checkSystem({ cfg: this.cfg, containers: this.containers, execs: this.execs, images: this.images.store, volumes: this.volumes, networks: this.networks, views: this.views, builds: this.builds }, o);
  }

  close(): void {
    this.procView.close();
    this.health.close();
    this.agents.close();
    this.containers.close();
    this.networks.close();
  }

  // ---- containers -------------------------------------------------------------

  listContainers(o: { all?: boolean; limit?: number; filters?: string; size?: boolean } = {}) {
    const f = parseFilters(o.filters);
    const known = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'volume', 'network', 'health', 'isolation', 'is-task', 'publish', 'expose'];
    for (const k of Object.keys(f)) if (!known.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const statuses = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
    for (const s of f.status ?? []) if (!statuses.includes(s)) throw invalidArgument(`invalid filter 'status=${s}'`);
    for (const h of f.health ?? []) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) throw invalidArgument(`Unrecognised filter value for health: ${h}`);
    for (const t of f['is-task'] ?? []) if (t !== 'true' && t !== 'false') throw invalidArgument(`invalid filter 'is-task=${t}'`);
    const publish = portFilter(f.publish ?? [], 'publish');
    const expose = portFilter(f.expose ?? [], 'expose');
    // Newest first, as docker lists; before and since name a container of that order.
    const sorted = this.containers.store.all().sort((a, b) => b.Created.localeCompare(a.Created));
    const at = (ref: string) => sorted.findIndex((c) => c.Id === this.containers.store.get(ref).Id);
    const list = sorted.slice(Math.max(0, ...(f.before ?? []).map((b) => at(b) + 1)), Math.min(sorted.length, ...(f.since ?? []).map(at)));
    // A limit counts stopped containers too, as docker's does.
    const all = o.all || (o.limit ?? 0) > 0 || (f.status?.length ?? 0) > 0 || (f.exited?.length ?? 0) > 0;
    const summaries = list.map((c) => ({ c, summary: this.containerSummary(c) }));
    const kept = summaries.filter(({ c, summary }) => {
      if (!all && !c.State.Running) return false;
      if (f.id && !f.id.some((x) => c.Id.startsWith(x))) return false;
      if (f.name && !f.name.some((x) => new RegExp(x.replace(/^\//, '')).test(c.Name.slice(1)))) return false;
      if (f.status && !f.status.includes(c.State.Status)) return false;
      if (f.exited && !(c.State.Status === 'exited' && f.exited.includes(String(c.State.ExitCode)))) return false;
      if (f.label && !f.label.every((l) => labelMatches(c.Config.Labels ?? {}, l))) return false;
      if (f.ancestor && !f.ancestor.some((a) => this.isAncestor(c, a))) return false;
      if (f.volume && !f.volume.some((v) => c.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v))) return false;
      if (f.health && !f.health.includes(c.State.Health?.Status ?? 'none')) return false;
      // Containers of the engine are never swarm tasks.
      if (f['is-task'] && !f['is-task'].includes('false')) return false;
      if (f.isolation && !f.isolation.includes('default')) return false;
      if (f.network) {
        const nets = c.NetworkSettings?.Networks ?? {};
        if (!f.network.some((n) => n in nets || Object.values(nets).some((e) => e.NetworkID && e.NetworkID.startsWith(n)))) return false;
      }
      if (publish.size || expose.size) {
        const ports = summary.Ports;
        if (!ports.some((p) => (p.PublicPort && publish.has(`${p.PublicPort}/${p.Type}`)) || expose.has(`${p.PrivatePort}/${p.Type}`))) return false;
      }
      return true;
    });
    return (o.limit && o.limit > 0 ? kept.slice(0, o.limit) : kept).map((x) => x.summary);
  }

  private containerSummary(c: ContainerRecord) {
    return {
      Id: c.Id,
      Names: [c.Name],
      Image: c.Config.Image ?? c.Image,
      ImageID: c.Image,
      Command: commandText(c),
      Created: Math.floor(Date.parse(c.Created) / 1000),
      Ports: Object.entries(c.State.Running ? portMap(this.networks.live(c).ports, c.Config.ExposedPorts, this.networks.live(c).dualStack) : {}).flatMap(([k, list]) => {
        const [port, type] = k.split('/');
        return list ? list.map((b) => ({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type })) : [{ PrivatePort: Number(port), Type: type }];
      }) as { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[],
      Labels: c.Config.Labels ?? {},
      State: c.State.Status,
      Status: statusText(c),
      HostConfig: { NetworkMode: c.HostConfig.NetworkMode ?? 'default' },
      NetworkSettings: { Networks: this.networks.live(c).networks },
      Mounts: c.Mounts.map(presentMount),
    };
  }

  private isAncestor(c: ContainerRecord, ref: string): boolean {
    if (c.Image === ref || c.Image.startsWith(`sha256:${ref}`) || c.Image.slice(7).startsWith(ref)) return true;
    return c.Config.Image === ref || this.images.store.namesOf(c.Image).some((n) => n === tryNorm(ref));
  }

  async inspectContainer(ref: string) {
    const c = this.containers.store.get(ref);
    const graph = await this.graphDriverData(c);
    const dir = this.containers.store.dir(c.Id);
    return {
      Id: c.Id,
      Created: c.Created,
      Path: c.Path,
      Args: c.Args,
      State: (({ Status, Running, Paused, Restarting, OOMKilled, Dead, Pid, ExitCode, Error, StartedAt, FinishedAt, Health }) => ({ Status, Running, Paused, Restarting, OOMKilled, Dead, Pid, ExitCode, Error, StartedAt, FinishedAt, ...(Health ? { Health } : {}) }))(c.State),
      Image: c.Image,
      ResolvConfPath: path.join(dir, 'resolv.conf'),
      HostnamePath: path.join(dir, 'hostname'),
      HostsPath: path.join(dir, 'hosts'),
      LogPath: this.containers.logPath(c),
      Name: c.Name,
      RestartCount: c.RestartCount,
      Driver: 'overlay',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: inspectHostConfig(c),
      GraphDriver: { Name: 'overlay', Data: graph },
      Mounts: c.Mounts.map(presentMount),
      Config: inspectConfig(c),
      NetworkSettings: this.containerNetworkSettings(c),
    };
  }

  /** overlay's folders, as docker's overlay2 shows them (the image's layers below, the container's own on top). */
  private async graphDriverData(c: ContainerRecord): Promise<Record<string, string>> {
    const snaps = this.images.store.snapshots;
    const upper = snaps.upperDir(c.Id);
    // A container whose rootfs is gone (a removal cut short) still inspects.
    const lower = await snaps.lowerDirs(c.Id).catch(() => []);
    return { ...(lower.length ? { LowerDir: lower.join(':') } : {}), MergedDir: runPaths(this.cfg.execRoot, c.Id).rootfs, UpperDir: upper, WorkDir: path.join(path.dirname(upper), 'work') };
  }

  /** docker's NetworkSettings: the live endpoints, the default bridge's values at the top level, and the ports. */
  private containerNetworkSettings(c: ContainerRecord) {
    const live = this.networks.live(c);
    const bridge = live.networks.bridge;
    const mode = c.HostConfig.NetworkMode ?? 'default';
    const own = c.State.Running && mode !== 'host' && !mode.startsWith('container:');
    return {
      Bridge: '', SandboxID: own ? c.Id : '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      Ports: c.State.Running ? portMap(live.ports, c.Config.ExposedPorts, live.dualStack) : {},
      SandboxKey: own ? this.networks.netnsPath(c.Id) : '',
      SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: bridge?.EndpointID ?? '', Gateway: bridge?.Gateway ?? '', GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0, IPAddress: bridge?.IPAddress ?? '', IPPrefixLen: bridge?.IPPrefixLen ?? 0, IPv6Gateway: '', MacAddress: bridge?.MacAddress ?? '', Networks: live.networks,
    };
  }

  // ---- networks -----------------------------------------------------------------

  /**
   * network ls with docker's name, id, driver, label and type filters.
   * `cluster`, on a manager: the cluster's networks, listed beside this
   * node's own (its part of one the cluster no longer has is not shown).
   */
  listNetworks(filters?: string, cluster?: NetworkRecord[]): object[] {
    const f = parseFilters(filters);
    for (const k of Object.keys(f)) if (!['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    for (const v of f.scope ?? []) if (!['local', 'swarm', 'global'].includes(v)) throw invalidArgument(`Invalid filter: 'scope'='${v}'`);
    // On a manager the cluster's list is the truth: a part of a network removed there is only waiting for its containers.
    const local = this.networks.store.all().filter((n) => !cluster || n.Scope !== 'swarm' || cluster.some((c) => c.Id === n.Id));
    return [...local, ...(cluster ?? []).filter((c) => !local.some((n) => n.Id === c.Id))]
      .filter((n) => {
        if (f.name && !f.name.some((x) => n.Name.includes(x))) return false;
        if (f.id && !f.id.some((x) => n.Id.startsWith(x))) return false;
        if (f.driver && !f.driver.includes(n.Driver)) return false;
        if (f.label && !f.label.every((l) => labelMatches(n.Labels, l))) return false;
        if (f.type && !f.type.includes(PREDEFINED.includes(n.Name) ? 'builtin' : 'custom')) return false;
        if (f.scope && !f.scope.includes(n.Scope)) return false;
        if (f.dangling && f.dangling.includes('true') === this.containers.networkUsers(n.Id).length > 0) return false;
        return true;
      })
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((n) => this.presentNetwork(n));
  }

  /** One network by id, name or id prefix; `cluster` as for listNetworks. */
  inspectNetwork(ref: string, cluster?: NetworkRecord[]): object {
    const mine = this.networks.store.find(ref);
    const shown = mine && (!cluster || mine.Scope !== 'swarm' || cluster.some((c) => c.Id === mine.Id)) ? mine : undefined;
    const n = shown ?? cluster?.find((c) => c.Id === ref || c.Name === ref) ?? cluster?.find((c) => c.Id.startsWith(ref));
    if (n) return this.presentNetwork(n);
    if (mine) throw notFound(`network ${ref} not found`);
    return this.presentNetwork(this.networks.store.get(ref));
  }

  private presentNetwork(n: NetworkRecord): object {
    const { bridge: _, ...rest } = n;
    return { ...rest, Containers: this.networks.containersOn(n, (id) => this.containers.store.find(id)?.Name.slice(1) ?? '') };
  }

  async createNetwork(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const same = this.networks.store.all().find((o) => o.Name === req.Name);
    const n = await this.networks.create(req);
    this.events.publish('network', 'create', n.Id, { name: n.Name, type: n.Driver });
    return { Id: n.Id, Warning: same ? `Network with name ${same.Name} (id : ${same.Id}) already exists` : '' };
  }

  async removeNetwork(ref: string): Promise<void> {
    const n = this.networks.store.get(ref);
    await this.networks.remove(n.Id);
    this.events.publish('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
  }

  /** Removes the user networks no container names. */
  async pruneNetworks(filters?: string): Promise<{ NetworksDeleted: string[] }> {
    const f = parseFilters(filters);
    const deleted: string[] = [];
    for (const n of this.networks.store.all()) {
      // A node's part of a cluster network is the cluster's to drop.
      if (PREDEFINED.includes(n.Name) || n.Scope === 'swarm' || this.containers.networkUsers(n.Id).length) continue;
      if (f.label && !f.label.every((l) => labelMatches(n.Labels, l))) continue;
      await this.removeNetwork(n.Id);
      deleted.push(n.Name);
    }
    return { NetworksDeleted: deleted };
  }

  /** docker stats: one sample in docker's shape; `pre` is the previous sample for CPU%. */
  async stats(ref: string, pre?: { read: string; cpu_stats: unknown }) {
    const c = this.containers.store.get(ref);
    const zero = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: this.cfg.host.cpus, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
    const now = new Date().toISOString();
    if (!c.State.Running) {
      return { read: now, preread: '0001-01-01T00:00:00Z', id: c.Id, name: c.Name, pids_stats: {}, blkio_stats: {}, num_procs: 0, storage_stats: {}, cpu_stats: zero, precpu_stats: zero, memory_stats: {}, networks: {} };
    }
    const s = await this.containers.cgroupOf(c).stats();
    const cpu = {
      cpu_usage: { total_usage: s.cpu.usageNs, usage_in_kernelmode: s.cpu.systemNs ?? 0, usage_in_usermode: s.cpu.userNs ?? 0 },
      system_cpu_usage: await systemCpuNs(),
      online_cpus: this.cfg.host.cpus,
      throttling_data: { periods: 0, throttled_periods: s.cpu.throttledPeriods ?? 0, throttled_time: 0 },
    };
    return {
      read: now,
      preread: pre?.read ?? '0001-01-01T00:00:00Z',
      id: c.Id,
      name: c.Name,
      pids_stats: { current: s.pids.current, limit: s.pids.limit },
      blkio_stats: { io_service_bytes_recursive: s.blkio.serviceBytes, io_serviced_recursive: s.blkio.serviced, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
      num_procs: 0,
      storage_stats: {},
      cpu_stats: cpu,
      precpu_stats: pre?.cpu_stats ?? zero,
      memory_stats: { usage: s.memory.usage, max_usage: s.memory.maxUsage, limit: s.memory.limit, failcnt: s.memory.failcnt, stats: s.memory.stat },
      ...(await this.networkCounters(c)),
    };
  }

  /** A container's interfaces and their counters (none with the host's network: docker shows no `networks` then). */
  private async networkCounters(c: ContainerRecord): Promise<{ networks?: Record<string, InterfaceCounters> }> {
    if ((c.HostConfig.NetworkMode ?? 'default') === 'host') return {};
    const text = await fsp.readFile(`/proc/${c.State.Pid}/net/dev`, 'utf8').catch(() => '');
    return { networks: parseNetDev(text) };
  }

  async pruneContainers(filters?: string) {
    const f = parseFilters(filters);
    const deleted: string[] = [];
    let space = 0;
    for (const c of this.containers.store.all()) {
      if (c.State.Running || c.State.Restarting) continue;
      if (f.label && !f.label.every((l) => labelMatches(c.Config.Labels ?? {}, l))) continue;
      space += (await this.images.store.snapshots.usage(c.Id).catch(() => ({ size: 0 }))).size;
      await this.containers.remove(c.Id, {});
      deleted.push(c.Id);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }

  // ---- volumes ----------------------------------------------------------------

  /** volume ls with docker's name, label and dangling filters. */
  async listVolumes(filters?: string) {
    const f = parseFilters(filters);
    let vols = await this.volumes.list();
    if (f.name) vols = vols.filter((v) => f.name.some((n) => v.Name.includes(n)));
    if (f.label) vols = vols.filter((v) => f.label.every((l) => labelMatches(v.Labels, l)));
    if (f.dangling) {
      const want = f.dangling.includes('true') || f.dangling.includes('1');
      vols = vols.filter((v) => (this.containers.volumeUsers(v.Name).length === 0) === want);
    }
    return vols;
  }

  /**
   * volume prune. API 1.41 (dockerd 20.10) removes every unused volume; from
   * 1.42 only anonymous ones unless `all=true`. An explicit `all` filter is
   * honoured at any version (the berth CLI sends it, with docker 23's flags).
   */
  async pruneVolumes(filters?: string, apiVersion = 1.41) {
    const f = parseFilters(filters);
    const all = f.all ? f.all.includes('true') || f.all.includes('1') : apiVersion < 1.42;
    const deleted: string[] = [];
    let space = 0;
    for (const v of await this.volumes.list()) {
      if (this.containers.volumeUsers(v.Name).length) continue;
      // As docker 23+: without all=true only anonymous volumes go.
      if (!all && !(ANONYMOUS_LABEL in v.Labels)) continue;
      if (f.label && !f.label.every((l) => labelMatches(v.Labels, l))) continue;
      space += await this.volumes.usage(v.Name);
      await this.volumes.remove(v.Name, []);
      deleted.push(v.Name);
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }

  // ---- system -----------------------------------------------------------------

  /** What the daemon brings besides the host: runtimes found, an init binary, lxcfs. */
  private daemonParts(): DaemonParts {
    return { runtimes: Object.keys(this.cfg.runtimes), init: this.containers.hasInit, procView: this.procView.state };
  }

  /** The host's parts and Berth's features that depend on them, for `system check`. */
  hostReport(): HostReportRow[] {
    return hostReport(this.cfg.host, this.daemonParts());
  }

  async info() {
    // Forwarding and br_netfilter change after start (the bridge plugin turns forwarding on): read them now.
    const host = { ...this.cfg.host, net: { ...this.cfg.host.net, ...netSysctls(new HostFs()) } };
    const cg = host.cgroups;
    const all = this.containers.store.all();
    const images = await this.images.store.list();
    const running = all.filter((c) => c.State.Running && !c.State.Paused).length;
    const paused = all.filter((c) => c.State.Paused).length;
    return {
      ID: 'berth',
      Containers: all.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: all.length - running - paused,
      Images: images.length,
      Driver: 'overlay',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'k8s-file', 'local', 'none'] },
      MemoryLimit: cg.memory.limit,
      SwapLimit: cg.memory.swap,
      KernelMemory: cg.memory.kernel,
      KernelMemoryTCP: cg.memory.kernelTcp,
      CpuCfsPeriod: cg.cpu.cfsPeriod,
      CpuCfsQuota: cg.cpu.cfsQuota,
      CPUShares: cg.cpu.shares,
      CPUSet: cg.cpuset.enabled,
      PidsLimit: cg.pids,
      OomKillDisable: cg.memory.oomKillDisable,
      IPv4Forwarding: host.net.ipv4Forwarding,
      BridgeNfIptables: host.net.bridgeNfIptables,
      BridgeNfIp6tables: host.net.bridgeNfIp6tables,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: String(cg.version),
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: await osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { InsecureRegistryCIDRs: [], IndexConfigs: {}, Mirrors: [] },
      NCPU: host.cpus,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: this.cfg.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: Object.fromEntries(Object.entries(this.cfg.runtimes).map(([n, p]) => [n, { path: p }])),
      DefaultRuntime: this.cfg.defaultRuntime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'docker-init',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: [...(host.security.seccomp ? ['name=seccomp,profile=default'] : []), ...(cg.namespaces ? ['name=cgroupns'] : [])],
      Warnings: infoWarnings(host, this.daemonParts()),
    };
  }

  /** Containers' summaries with docker's SizeRw (the writable layer's bytes) and SizeRootFs (with the image's). */
  async withSizes<T extends { Id: string; ImageID: string }>(list: T[], images?: { Id: string; Size: number }[]): Promise<(T & { SizeRw: number; SizeRootFs: number })[]> {
    const imgs = images ?? (await this.images.list({}));
    const out = [];
    for (const c of list) {
      // A layer being removed under us counts as empty, as docker's does.
      const rw = (await this.images.store.snapshots.usage(c.Id).catch(() => ({ size: 0 }))).size;
      out.push({ ...c, SizeRw: rw, SizeRootFs: rw + (imgs.find((i) => i.Id === c.ImageID)?.Size ?? 0) });
    }
    return out;
  }

  async df() {
    const containers = this.containers.store.all();
    const images = await this.images.list({});
    let layersSize = 0;
    for (const s of await this.images.store.snapshots.list()) if (s.kind === 'committed') layersSize += (await this.images.store.snapshots.usage(s.name)).size;
    const cs = await this.withSizes(this.listContainers({ all: true }), images);
    const vols = [];
    for (const v of await this.volumes.list()) {
      vols.push({ ...v, UsageData: { Size: await this.volumes.usage(v.Name), RefCount: this.containers.volumeUsers(v.Name).length } });
    }
    return {
      LayersSize: layersSize,
      Images: images.map((i) => ({ ...i, Containers: containers.filter((c) => c.Image === i.Id).length })),
      Containers: cs,
      Volumes: vols,
      BuildCache: [],
    };
  }

}

function presentMount(m: ContainerRecord['Mounts'][number]) {
  return {
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Type === 'volume' ? { Driver: 'local' } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  };
}

function tryNorm(ref: string): string | undefined {
  try {
    return normalize(ref);
  } catch {
    return undefined;
  }
}

async function systemCpuNs(): Promise<number> {
  const line = (await fsp.readFile('/proc/stat', 'utf8')).split('\n')[0];
  const ticks = line.split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0);
  return ticks * (1e9 / 100);
}

async function osName(): Promise<string> {
  const text = await fsp.readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
}

/** `80`, `80/udp`, `8000-8080/tcp` → the set of `port/proto` a publish or expose filter names. */
function portFilter(values: string[], name: string): Set<string> {
  const out = new Set<string>();
  for (const v of values) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(v);
    const lo = Number(m?.[1]);
    const hi = Number(m?.[2] ?? m?.[1]);
    if (!m || hi < lo || hi > 65535) throw invalidArgument(`invalid filter '${name}=${v}'`);
    for (let p = lo; p <= hi; p++) out.add(`${p}/${m[3] ?? 'tcp'}`);
  }
  return out;
}
