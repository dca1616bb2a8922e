import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { BerthError, conflict, errorMessage, invalidArgument } from '../../base/errors';
import { atomicWriteJson, mkdirp, readdirIfExists, readJsonIfExists } from '../../base/files';
import type { Finding } from '../../base/finding';
import { shortId } from '../../base/ids';
import type { Logger } from '../../base/log';
import { BridgeTakenError, bridgeMac, clearQdiscs, ensureBridge, hostRoutes, interfaceExists, ownedLinks, removeLink } from '../../network/bridge';
import { Cni, CNI_VERSION, type CniResult, type NetConfList, type PluginConf } from '../../network/cni';
import { type DnsRecord, DnsServer } from '../../network/dns';
import { ensureVxlan, setVxlanPeers, VXLAN_OVERHEAD } from '../../network/vxlan';
import { addNetworkRules, addShapeRules, baseRules, shapeBaseRule, describeRule, missingRules, networkRules, ownedRules, removeNetworkRules, removeRule, ruleInterfaces, saveRules } from '../../network/firewall';
import { createNetns, removeNetns } from '../../network/netns';
import { contains, formatCidr, formatIp, hostRange, parseIp } from '../../network/subnet';
import { parseLink } from '../containers/links';
import type { ContainerRecord, EndpointSettings } from '../model';
import { contains6, formatCidr6, formatIp6, hostRange6, isIp6, parseIp6 } from '../../network/subnet6';
import { addressPlan, addressPlan6, type NetworkCreateRequest, type NetworkRecord, NetworkStore, type OverlaySpec, PREDEFINED } from './network-store';
import { allocatePorts, type PortMapping, portRequests } from './ports';
import { bandwidthOf, SharedLink, type SharedLinkConfig } from './shared-link';

export interface NetworkConfig {
  /** The default bridge network's Linux bridge (docker's docker0). */
  bridge: string;
  cniPluginDirs: string[];
  /** Which rate limits the host's tc parts allow (a record made on another host may hold one it cannot). */
  rateLimits: { ingress: boolean; egress: boolean };
  /** The host has IPv6: dual-stack networks may be made. */
  ipv6: boolean;
  /** The link whose bandwidth containers share by guarantee and priority. */
  sharedLink?: SharedLinkConfig;
}

/** One container's interface on one network, as set up (kept to undo it exactly). */
interface Attachment {
  networkId: string;
  ifName: string;
  endpointId: string;
  conf: NetConfList;
  args: Record<string, unknown>;
  /** Names it answers to in DNS (user networks). */
  names: string[];
  /** The container's --dns servers: where the network's resolver forwards its other queries. */
  upstreams?: string[];
  /** Legacy links on a user network: alias → the linked container's name, resolved for this container only. */
  links?: Record<string, string>;
  result?: CniResult;
  ip?: string;
  prefixLen?: number;
  gateway?: string;
  /** Its IPv6 address on a dual-stack network. */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  mac?: string;
}

/** What the host holds for one running container's network: its namespace and attachments. */
interface EndpointState {
  id: string;
  netns: string;
  attachments: Attachment[];
  ports: PortMapping[];
}

/** What a start needs from the network set-up. */
export interface Sandbox {
  netns: string;
  ip?: string;
  ip6?: string;
  /** The DNS server for resolv.conf (user networks). */
  nameserver?: string;
}

const LOOPBACK: NetConfList = { cniVersion: CNI_VERSION, name: 'loopback', plugins: [{ type: 'loopback' }] };
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** An overlay's MTU: a 1500-byte underlay less VXLAN's headers (docker's default too). */
const OVERLAY_MTU = 1500 - VXLAN_OVERHEAD;
/** How often the host's firewall is read for rules someone else removed. */
const FIREWALL_LOOK_MS = 1000;

/**
 * Networks and the containers' places in them. A container that is not
 * host-networked gets a namespace of Berth's making (a file under the exec
 * root) with loopback up; on bridge networks CNI's bridge, host-local,
 * portmap and bandwidth plugins give it an interface, an address, published
 * ports and rate limits. The state of each set-up is written before it is
 * made, so a crash at any point leaves something detach() can undo.
 */
export class NetworkService {
  private readonly states = new Map<string, EndpointState>();
  /** Each overlay network's tasks as last set: the names of those that serve (and the set's key, to skip one that changes nothing). */
  private readonly overlayPeers = new Map<string, { key: string; records: DnsRecord[] }>();
  private readonly cni: Cni;
  readonly dns: DnsServer;
  /** Set at open: the shared link's shaping. */
  link!: SharedLink;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly store: NetworkStore,
    private readonly cfg: NetworkConfig,
    private readonly execRoot: string,
    private readonly logger: Logger,
    /** The alias on this daemon's bridges: its data root's, so two daemons' never match. */
    private readonly owner: string,
  ) {
    this.cni = new Cni(cfg.cniPluginDirs);
    this.dns = new DnsServer(logger);
  }

  private get stateDir() {
    return path.join(this.execRoot, 'networks', 'endpoints');
  }

  private get ipamDir() {
    return path.join(this.execRoot, 'networks', 'ipam');
  }

  /** The folders of this service's records, for the check's search for temp files of cut-off writes. */
  recordDirs(): string[] {
    return [this.store.root, this.stateDir];
  }

  netnsPath(id: string) {
    return path.join(this.execRoot, 'netns', id);
  }

  static async open(dataRoot: string, execRoot: string, cfg: NetworkConfig, logger: Logger): Promise<NetworkService> {
    const owner = `berth:${createHash('sha256').update(path.resolve(dataRoot)).digest('hex').slice(0, 16)}`;
    const s = new NetworkService(await NetworkStore.open(path.join(dataRoot, 'networks')), cfg, execRoot, logger, owner);
    await mkdirp(s.stateDir, 0o700);
    for (const f of await fsp.readdir(s.stateDir)) {
      if (!f.endsWith('.json')) continue; // not the temp files of writes a crash cut short
      const st = await readJsonIfExists<EndpointState>(path.join(s.stateDir, f));
      if (st) s.states.set(st.id, st);
    }
    s.link = await SharedLink.open(execRoot, cfg.sharedLink ?? {}, owner, logger);
    await s.link.restore((id) => s.states.has(id));
    await s.ensurePredefined();
    for (const n of s.store.all()) {
      if (!carried(n)) continue;
      await s.ensureHostSide(n);
      await s.updateDns(n).catch((e) => logger.warn('dns server', { network: n.Name, error: errorMessage(e) }));
    }
    return s;
  }

  /** One network change at a time (subnet choice, DNS files). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined); // the caller hears of the failure through p; the chain goes on
    return p;
  }

  private async ensurePredefined(): Promise<void> {
    const base = { Scope: 'local' as const, EnableIPv6: false, Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Labels: {} };
    if (!this.store.find('bridge')) {
      const n = this.store.plan({ Name: 'bridge' }, { bridgeName: () => this.cfg.bridge, hostRoutes: await hostRoutes(), predefined: true });
      n.Options = { 'com.docker.network.bridge.default_bridge': 'true', [BRIDGE_NAME_OPTION]: this.cfg.bridge };
      // The host side first: a bridge another daemon owns fails this start and leaves no record naming it.
      await this.ensureHostSide(n);
      await this.store.save(n);
    }
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (this.store.find(name)) continue;
      await this.store.save({ ...base, Name: name, Id: randomBytes(32).toString('hex'), Created: new Date().toISOString(), Driver: driver, IPAM: { Driver: 'default', Options: null, Config: [] }, Options: {} });
    }
  }

  private rules(n: NetworkRecord) {
    const plan6 = addressPlan6(n);
    return { bridge: n.bridge!, subnet: formatCidr(addressPlan(n).subnet), subnet6: plan6 && formatCidr6(plan6.subnet), internal: n.Internal, owner: this.owner };
  }

  /** The bridge, its address and the firewall rules (idempotent: at create and at every daemon start). */
  private async ensureHostSide(n: NetworkRecord): Promise<void> {
    const plan = addressPlan(n);
    const plan6 = addressPlan6(n);
    await ensureBridge(n.bridge!, `${formatIp(plan.gateway)}/${plan.subnet.bits}`, this.owner, plan6 && `${formatIp6(plan6.gateway)}/${plan6.subnet.bits}`).catch((e) => {
      if (!(e instanceof BridgeTakenError)) throw e;
      const hint = n.Name === 'bridge' ? `; give this daemon a bridge of its own with --bridge NAME, or remove the old one (ip link del ${e.bridge})` : '';
      throw conflict(`${e.message}${hint}`);
    });
    if (n.vxlan) await ensureVxlan(n.vxlan.dev, { ...n.vxlan, bridge: n.bridge!, owner: this.owner });
    await addNetworkRules(this.rules(n));
  }

  // ---- networks ---------------------------------------------------------------

  create(req: NetworkCreateRequest): Promise<NetworkRecord> {
    return this.serial(async () => {
      const n = this.store.plan(req, { bridgeName: (id) => req.Options?.[BRIDGE_NAME_OPTION] ?? `br-${id.slice(0, 12)}`, hostRoutes: await hostRoutes(), ipv6: this.cfg.ipv6 });
      if (n.bridge!.length > 15) throw invalidArgument(`bridge name ${n.bridge} is longer than 15 characters`);
      if (this.store.all().some((o) => o.bridge === n.bridge)) throw conflict(`bridge ${n.bridge} is in use by another network`);
      return this.make(n);
    });
  }

  /** The record first (a crash after it leaves a network whose host side the next start completes), then the host side; a failure undoes both. */
  private async make(n: NetworkRecord): Promise<NetworkRecord> {
    await this.store.save(n);
    try {
      await this.ensureHostSide(n);
    } catch (e) {
      await this.teardownHostSide(n).catch((err) => this.logger.warn('network teardown after a failed create', { network: n.Name, error: errorMessage(err) }));
      await this.store.delete(n);
      throw e;
    }
    return n;
  }

  /**
   * This node's part of a cluster network (its bridge with the network's
   * gateway, and a VXLAN port to the other nodes), made when a task here
   * first needs it; idempotent.
   */
  async ensureOverlay(o: OverlaySpec): Promise<NetworkRecord> {
    const made = await this.serial(async () => {
      const had = this.store.find(o.id);
      if (had) {
        await this.ensureHostSide(had);
        return had;
      }
      return this.make(this.store.planOverlay(o, OVERLAY_MTU));
    });
    // Its resolver listens from now on (updateDns takes its own turn in the series).
    await this.updateDns(made);
    return made;
  }

  /**
   * A cluster network's tasks: those on other nodes forwarded to their node
   * over VXLAN; the names of each (service, aliases) answered by this
   * node's resolver on the network.
   */
  async setOverlayPeers(id: string, peers: { id: string; ip: string; vtep?: string; names: string[] }[]): Promise<void> {
    const key = JSON.stringify(peers);
    const n = await this.serial(async () => {
      const rec = this.store.find(id);
      if (!rec?.vxlan || this.overlayPeers.get(id)?.key === key) return undefined;
      await setVxlanPeers(rec.vxlan.dev, peers.flatMap((p) => (p.vtep ? [{ ip: p.ip, vtep: p.vtep }] : [])));
      this.overlayPeers.set(id, { key, records: peers.flatMap((p) => (p.names.length ? [{ id: `task:${p.id}`, ip: p.ip, names: p.names }] : [])) });
      return rec;
    });
    if (n) await this.updateDns(n);
  }

  private async teardownHostSide(n: NetworkRecord): Promise<void> {
    await removeNetworkRules(this.rules(n));
    if (n.vxlan) await removeLink(n.vxlan.dev);
    this.overlayPeers.delete(n.Id);
    await removeLink(n.bridge!);
    await fsp.rm(path.join(this.ipamDir, n.Id), { recursive: true, force: true });
    await this.dns.set(n.Id, undefined, []);
  }

  /** Containers with an interface on the network now. */
  activeEndpoints(networkId: string): { id: string; att: Attachment; rank: number }[] {
    return [...this.states.values()].flatMap((s) => s.attachments.flatMap((att, rank) => (att.networkId === networkId ? [{ id: s.id, att, rank }] : [])));
  }

  remove(ref: string): Promise<void> {
    return this.serial(async () => {
      const n = this.store.get(ref);
      if (PREDEFINED.includes(n.Name)) throw new BerthError('forbidden', `${n.Name} is a pre-defined network and cannot be removed`);
      if (this.activeEndpoints(n.Id).length) throw new BerthError('forbidden', `error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
      await this.teardownHostSide(n);
      await this.store.delete(n);
    });
  }

  /** The Containers map of network inspect. */
  containersOn(n: NetworkRecord, nameOf: (id: string) => string): Record<string, object> {
    const out: Record<string, object> = {};
    for (const { id, att } of this.activeEndpoints(n.Id)) {
      out[id] = { Name: nameOf(id), EndpointID: att.endpointId, MacAddress: att.mac ?? '', IPv4Address: att.ip ? `${att.ip}/${att.prefixLen}` : '', IPv6Address: att.ip6 ? `${att.ip6}/${att.prefixLen6}` : '' };
    }
    return out;
  }

  // ---- endpoints of containers -------------------------------------------------

  /**
   * Docker's NetworkSettings.Networks of a new container, checked: the mode's
   * network and the endpoints asked for (aliases, a static address).
   */
  planEndpoints(mode: string, asked: Record<string, Partial<EndpointSettings>>): Record<string, EndpointSettings> {
    if (mode === 'host' || mode.startsWith('container:')) {
      if (Object.keys(asked).some((k) => k !== mode)) throw invalidArgument(`conflicting options: ${mode} network mode and networks`);
      return mode === 'host' ? { host: emptyEndpoint(this.store.get('host').Id) } : {};
    }
    const primary = mode === 'default' ? 'bridge' : mode;
    // The docker CLI names the mode's network in EndpointsConfig, "default" included.
    asked = Object.fromEntries(Object.entries(asked).map(([k, v]) => [k === 'default' ? 'bridge' : k, v]));
    const out: Record<string, EndpointSettings> = {};
    for (const name of [primary, ...Object.keys(asked).filter((k) => k !== primary)]) {
      const n = this.store.get(name);
      if (n.Driver === 'host' || (n.Driver === 'null' && name !== primary)) throw invalidArgument(`container cannot be connected to ${n.Name} together with other networks`);
      out[n.Name] = this.endpointFor(n, asked[name] ?? asked[n.Id] ?? {});
    }
    return out;
  }

  /** An endpoint's settings for a network, checked against it. */
  endpointFor(n: NetworkRecord, want: Partial<EndpointSettings>): EndpointSettings {
    const e = emptyEndpoint(n.Id);
    const ip = want.IPAMConfig?.IPv4Address;
    if (ip) {
      if (!carried(n) || n.Name === 'bridge') throw invalidArgument('user specified IP address is supported on user defined networks only');
      const plan = addressPlan(n);
      const a = parseIp(ip);
      const hosts = hostRange(plan.subnet);
      if (!contains(plan.subnet, a) || a < hosts.first || a > hosts.last) throw invalidArgument(`Address ${ip} is not in the subnet ${n.IPAM.Config[0].Subnet} of network ${n.Name}`);
      if (a === plan.gateway) throw invalidArgument(`Address ${ip} is the gateway of network ${n.Name}`);
      e.IPAMConfig = { IPv4Address: ip };
    }
    const ip6 = want.IPAMConfig?.IPv6Address;
    if (ip6) {
      if (n.Driver !== 'bridge' || n.Name === 'bridge') throw invalidArgument('user specified IP address is supported on user defined networks only');
      const plan6 = addressPlan6(n);
      if (!plan6) throw invalidArgument(`network ${n.Name} has no IPv6 (create it with --ipv6 and an IPv6 subnet)`);
      const a = parseIp6(ip6);
      if (!contains6(plan6.subnet, a) || a < hostRange6(plan6.subnet).first) throw invalidArgument(`Address ${ip6} is not in the subnet ${formatCidr6(plan6.subnet)} of network ${n.Name}`);
      if (a === plan6.gateway) throw invalidArgument(`Address ${ip6} is the gateway of network ${n.Name}`);
      e.IPAMConfig = { ...e.IPAMConfig, IPv6Address: formatIp6(a) };
    }
    if (want.Aliases?.length) {
      if (n.Name === 'bridge' || !carried(n)) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
      e.Aliases = [...want.Aliases];
    }
    // Kept as given and shown in inspect, as dockerd keeps them.
    if (want.Links?.length) e.Links = [...want.Links];
    if (want.DriverOpts && Object.keys(want.DriverOpts).length) e.DriverOpts = { ...want.DriverOpts };
    if (want.IPAMConfig?.LinkLocalIPs?.length) e.IPAMConfig = { ...e.IPAMConfig, LinkLocalIPs: [...want.IPAMConfig.LinkLocalIPs] };
    return e;
  }

  /** The host ports in use by this daemon's running containers. */
  private portsInUse(except: string): PortMapping[] {
    return [...this.states.values()].filter((s) => s.id !== except).flatMap((s) => s.ports);
  }

  private async saveState(st: EndpointState): Promise<void> {
    await atomicWriteJson(path.join(this.stateDir, `${st.id}.json`), st);
    this.states.set(st.id, st);
  }

  /**
   * Sets up a starting container's network namespace: loopback, then an
   * interface on each of its networks (the mode's first, with the published
   * ports and rate limits). Undone by detach(), also after a failure here.
   */
  async attach(c: ContainerRecord): Promise<Sandbox | undefined> {
    const mode = c.HostConfig.NetworkMode ?? 'default';
    if (mode === 'host' || mode.startsWith('container:')) return undefined;
    const st: EndpointState = { id: c.Id, netns: this.netnsPath(c.Id), attachments: [], ports: [] };
    try {
      await this.saveState(st);
      await createNetns(st.netns);
      await this.cni.add(LOOPBACK, { containerId: c.Id, netns: st.netns, ifName: 'lo' });
      const nets = Object.entries(c.NetworkSettings?.Networks ?? {});
      for (const [i, [name, ep]] of nets.entries()) {
        const n = this.store.get(ep.NetworkID || name);
        if (!carried(n)) continue;
        await this.attachOne(c, st, n, ep, i === 0);
      }
      const bw = bandwidthOf(c.HostConfig);
      const first = st.attachments[0];
      if (bw && first) await this.link.set(c.Id, bw, first.ip, first.ip6);
    } catch (e) {
      await this.detach(c.Id).catch((err) => this.logger.warn('network detach after a failed attach', { id: c.Id, error: errorMessage(err) }));
      throw e;
    }
    return { netns: st.netns, ip: st.attachments[0]?.ip, ip6: st.attachments[0]?.ip6, nameserver: this.nameserverOf(st) };
  }

  /** The DNS server of a container's first user network (docker's embedded DNS serves any container on one). */
  private nameserverOf(st: EndpointState): string | undefined {
    return st.attachments.find((a) => hasDns(this.store.find(a.networkId)))?.gateway;
  }

  private async attachOne(c: ContainerRecord, st: EndpointState, n: NetworkRecord, ep: EndpointSettings, primary: boolean): Promise<Attachment> {
    const used = new Set(st.attachments.map((a) => a.ifName));
    let k = 0;
    while (used.has(`eth${k}`)) k++;
    const plan = addressPlan(n);
    const plan6 = addressPlan6(n);
    const ip = ep.IPAMConfig?.IPv4Address;
    const ip6 = plan6 ? ep.IPAMConfig?.IPv6Address : undefined;
    for (const [a, key] of [[ip, 'ip'], [ip6, 'ip6']] as const) {
      if (a && this.activeEndpoints(n.Id).some((x) => x.att[key] === a && x.id !== c.Id)) throw new BerthError('forbidden', `Address already in use: ${a} on network ${n.Name}`);
    }
    const args: Record<string, unknown> = {};
    // host-local takes a static address per family; the other family's comes from its range.
    if (ip || ip6) args.ips = [...(ip ? [`${ip}/${plan.subnet.bits}`] : []), ...(ip6 && plan6 ? [`${ip6}/${plan6.subnet.bits}`] : [])];
    const plugins: PluginConf[] = [this.bridgePlugin(n, plan, st.attachments.length === 0, !!ip, !!ip6)];
    // docker's --mac-address names the first network's interface address: the tuning plugin sets it (and the result says it).
    // On an overlay the MAC is made of the address, so every node knows it without asking (docker's way too).
    if (n.vxlan && !ip) throw invalidArgument(`cluster network ${n.Name}: a container joins it with the address the cluster gave its task`);
    const mac = n.vxlan && ip ? bridgeMac(ip) : primary ? c.Config.MacAddress : undefined;
    if (mac) plugins.push({ type: 'tuning', mac });
    if (primary) {
      const reqs = portRequests(c.HostConfig.PortBindings, c.Config.ExposedPorts, !!c.HostConfig.PublishAllPorts);
      if (reqs.length) {
        st.ports = await allocatePorts(reqs, this.portsInUse(c.Id));
        args.portMappings = st.ports;
        plugins.push({ type: 'portmap', snat: true, capabilities: { portMappings: true } });
      }
      const bw = bandwidthArgs(c, this.cfg.rateLimits);
      if (bw) {
        args.bandwidth = bw;
        plugins.push({ type: 'bandwidth', capabilities: { bandwidth: true } });
      }
    }
    const names = !hasDns(n) ? [] : [c.Name.replace(/^\//, ''), ...(ep.Aliases ?? []), shortId(c.Id)];
    const att: Attachment = { networkId: n.Id, ifName: `eth${k}`, endpointId: randomBytes(32).toString('hex'), conf: { cniVersion: CNI_VERSION, name: n.Id, plugins }, args, names };
    if (c.HostConfig.Dns?.length) att.upstreams = [...c.HostConfig.Dns];
    const links = hasDns(n) ? linkAliases(c, n, ep) : undefined;
    if (links) att.links = links;
    st.attachments.push(att);
    await this.saveState(st);
    const result = await this.cni.add(att.conf, { containerId: c.Id, netns: st.netns, ifName: att.ifName, capabilityArgs: args });
    att.result = result;
    const addr = result.ips?.find((x) => !isIp6(x.address));
    if (addr) {
      const [a, bits] = addr.address.split('/');
      att.ip = a;
      att.prefixLen = Number(bits);
      att.gateway = addr.gateway;
    }
    const addr6 = result.ips?.find((x) => isIp6(x.address));
    if (addr6) {
      const [a, bits] = addr6.address.split('/');
      att.ip6 = formatIp6(parseIp6(a));
      att.prefixLen6 = Number(bits);
      att.gateway6 = addr6.gateway && formatIp6(parseIp6(addr6.gateway));
    }
    att.mac = result.interfaces?.find((i) => i.name === att.ifName && i.sandbox)?.mac;
    await this.saveState(st);
    await this.updateDns(n);
    return att;
  }

  private bridgePlugin(n: NetworkRecord, plan: ReturnType<typeof addressPlan>, defaultRoute: boolean, staticIp: boolean, staticIp6: boolean): PluginConf {
    const range: Record<string, string> = { subnet: formatCidr(plan.subnet), gateway: formatIp(plan.gateway) };
    // Dynamic addresses come from the ip-range; a static one may be anywhere in the subnet (as docker).
    if (plan.range && !staticIp) {
      const r = hostRange(plan.range);
      range.rangeStart = formatIp(Math.max(r.first, hostRange(plan.subnet).first));
      range.rangeEnd = formatIp(Math.min(r.last, hostRange(plan.subnet).last));
    }
    const ranges = [[range]];
    const plan6 = addressPlan6(n);
    if (plan6) {
      const range6: Record<string, string> = { subnet: formatCidr6(plan6.subnet), gateway: formatIp6(plan6.gateway) };
      if (plan6.range && !staticIp6) {
        const r = hostRange6(plan6.range);
        const all = hostRange6(plan6.subnet);
        range6.rangeStart = formatIp6(r.first > all.first ? r.first : all.first);
        range6.rangeEnd = formatIp6(r.last < all.last ? r.last : all.last);
      }
      ranges.push([range6]);
    }
    const routes = defaultRoute && !n.Internal ? [{ dst: '0.0.0.0/0' }, ...(plan6 ? [{ dst: '::/0' }] : [])] : [];
    return {
      type: 'bridge',
      bridge: n.bridge,
      ...(n.vxlan ? { mtu: n.vxlan.mtu } : {}),
      isGateway: true,
      // Masquerading is one rule per network (firewall.ts), not a chain per container.
      ipMasq: false,
      hairpinMode: true,
      capabilities: { ips: true },
      ipam: {
        type: 'host-local',
        dataDir: this.ipamDir,
        ranges,
        // Only the first interface routes to the outside; internal networks have no way out.
        routes,
      },
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.firewallTimer);
    this.dns.close();
  }

  /** A renamed container answers to its new name. */
  async renamed(id: string, oldName: string, newName: string): Promise<void> {
    const st = this.states.get(id);
    for (const att of st?.attachments ?? []) {
      att.names = att.names.map((n) => (n === oldName ? newName : n));
      const n = this.store.find(att.networkId);
      if (n) await this.updateDns(n);
    }
    if (st) await this.saveState(st);
  }

  /** Sets a user network's DNS records from the attachments on it (none on the default bridge, as docker). */
  private updateDns(n: NetworkRecord): Promise<void> {
    if (!hasDns(n)) return Promise.resolve();
    return this.serial(async () => {
      const cur = this.store.find(n.Id);
      const records: DnsRecord[] = this.activeEndpoints(n.Id).flatMap(({ id, att, rank }) => (att.ip ? [{ id, ip: att.ip, ip6: att.ip6, names: att.names, upstreams: att.upstreams, links: att.links, rank }] : []));
      records.push(...(this.overlayPeers.get(n.Id)?.records ?? []));
      await this.dns.set(n.Id, cur ? formatIp(addressPlan(cur).gateway) : undefined, records);
    });
  }

  /** Undoes attach() or what is left of it: interfaces, leases, ports, limits, DNS names, the namespace. Idempotent. */
  async detach(id: string): Promise<void> {
    const st = this.states.get(id) ?? (await readJsonIfExists<EndpointState>(path.join(this.stateDir, `${id}.json`)));
    // Its share goes first (its rules name its address); a failure leaves a rule the check finds, never a container half-removed.
    await this.link.release(id).catch((e) => this.logger.warn('shared link release', { id, error: errorMessage(e) }));
    if (st) {
      for (const att of [...st.attachments].reverse()) await this.undoAttachment(st, att);
    }
    await removeNetns(this.netnsPath(id));
    await fsp.rm(path.join(this.stateDir, `${id}.json`), { force: true });
    this.states.delete(id);
  }

  private async undoAttachment(st: EndpointState, att: Attachment): Promise<void> {
    await this.cni.del(att.conf, { containerId: st.id, netns: st.netns, ifName: att.ifName, capabilityArgs: att.args }, att.result).catch((e) => this.logger.warn('CNI DEL', { id: st.id, network: att.networkId, error: errorMessage(e) }));
    st.attachments = st.attachments.filter((a) => a !== att);
    const n = this.store.find(att.networkId);
    if (n) await this.updateDns(n);
  }

  /**
   * `network connect` of a running container: one more interface. Returns
   * the network's DNS server when it is the container's first user network
   * (its resolv.conf has to point there now).
   */
  async connectRunning(c: ContainerRecord, n: NetworkRecord, ep: EndpointSettings): Promise<string | undefined> {
    const st = this.states.get(c.Id);
    if (!st) throw conflict(`container ${c.Id} has no network namespace of its own`);
    if (st.attachments.some((a) => a.networkId === n.Id)) throw new BerthError('forbidden', `endpoint with name ${c.Name.slice(1)} already exists in network ${n.Name}`);
    const had = this.nameserverOf(st);
    try {
      const att = await this.attachOne(c, st, n, ep, false);
      return !had && hasDns(n) ? att.gateway : undefined;
    } catch (e) {
      const att = st.attachments.find((a) => a.networkId === n.Id);
      if (att) await this.undoAttachment(st, att);
      await this.saveState(st);
      throw e;
    }
  }

  async disconnectRunning(c: ContainerRecord, n: NetworkRecord): Promise<void> {
    const st = this.states.get(c.Id);
    const att = st?.attachments.find((a) => a.networkId === n.Id);
    if (!st || !att) return;
    await this.undoAttachment(st, att);
    await this.saveState(st);
  }

  /** The live values of a running container's endpoints, over its record's settings. */
  live(c: ContainerRecord): { networks: Record<string, EndpointSettings>; ports: PortMapping[]; dualStack: boolean } {
    const st = this.states.get(c.Id);
    const networks: Record<string, EndpointSettings> = {};
    for (const [name, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      const att = st?.attachments.find((a) => a.networkId === ep.NetworkID);
      networks[name] = att && c.State.Running
        ? {
            ...ep,
            EndpointID: att.endpointId,
            Gateway: att.gateway ?? '',
            IPAddress: att.ip ?? '',
            IPPrefixLen: att.prefixLen ?? 0,
            IPv6Gateway: att.gateway6 ?? '',
            GlobalIPv6Address: att.ip6 ?? '',
            GlobalIPv6PrefixLen: att.prefixLen6 ?? 0,
            MacAddress: att.mac ?? '',
            Aliases: att.names.length ? [...new Set([...(ep.Aliases ?? []), shortId(c.Id)])] : ep.Aliases,
          }
        : ep;
    }
    // Ports are published on the first network: IPv6 too when it gave the container an IPv6 address.
    return { networks, ports: c.State.Running ? (st?.ports ?? []) : [], dualStack: c.State.Running && !!st?.attachments[0]?.ip6 };
  }

  /** `update` of a running container's share of the shared link: given, changed or taken away. */
  async updateShare(c: ContainerRecord): Promise<void> {
    const first = this.states.get(c.Id)?.attachments[0];
    const bw = bandwidthOf(c.HostConfig);
    if (bw && first) await this.link.set(c.Id, bw, first.ip, first.ip6);
    else await this.link.release(c.Id);
  }

  /** `update` of the rate limits of a running container: its bandwidth plugin undone and done again. */
  async updateBandwidth(c: ContainerRecord): Promise<void> {
    const st = this.states.get(c.Id);
    const att = st?.attachments[0];
    if (!st || !att?.result) return;
    const rt = { containerId: c.Id, netns: st.netns, ifName: att.ifName };
    const old = att.conf.plugins.find((p) => p.type === 'bandwidth');
    if (old) {
      await this.cni.del({ ...att.conf, plugins: [old] }, { ...rt, capabilityArgs: att.args }, att.result);
      // The plugin's DEL removes its ifb but leaves the host veth's qdiscs (a veth normally goes with the container).
      const hostVeth = att.result.interfaces?.find((i) => !i.sandbox && i.name !== this.store.find(att.networkId)?.bridge)?.name;
      if (hostVeth) await clearQdiscs(hostVeth);
    }
    att.conf.plugins = att.conf.plugins.filter((p) => p.type !== 'bandwidth');
    delete att.args.bandwidth;
    const bw = bandwidthArgs(c, this.cfg.rateLimits);
    if (bw) {
      const plugin: PluginConf = { type: 'bandwidth', capabilities: { bandwidth: true } };
      att.args.bandwidth = bw;
      att.conf.plugins.push(plugin);
      await this.saveState(st);
      await this.cni.add({ ...att.conf, plugins: [plugin] }, { ...rt, capabilityArgs: att.args }, att.result).catch(async (e) => {
        throw invalidArgument(`Cannot update the rate limits of container ${c.Id}: ${errorMessage(e)}`);
      });
    }
    await this.saveState(st);
  }

  // ---- a firewall that others change ------------------------------------------------

  private firewallTimer?: NodeJS.Timeout;
  private closed = false;

  /**
   * Watches for someone else's flush or restore of the firewall
   * (`iptables -F`, `iptables -t nat -F`, `iptables-restore` of an older
   * save): once a second the host's rules are read (`iptables-save`), and
   * whatever of Berth's is missing is put back, the published ports of
   * running containers included, without touching the containers.
   */
  watchFirewall(busy: (id: string) => boolean): void {
    const tick = async () => {
      await this.repairFirewall(busy).catch((e) => this.logger.warn('firewall watch', { error: errorMessage(e) }));
      if (!this.closed) this.firewallTimer = setTimeout(() => void tick(), FIREWALL_LOOK_MS);
    };
    this.firewallTimer = setTimeout(() => void tick(), FIREWALL_LOOK_MS);
  }

  /** Puts back what is missing of the networks' rules and the containers' published ports; returns what it restored. */
  repairFirewall(busy: (id: string) => boolean): Promise<string[]> {
    return this.serial(async () => {
      const nets = this.store.all().filter((n) => carried(n) && n.bridge);
      const dual = nets.some((n) => addressPlan6(n));
      const v4 = await saveRules(4);
      const v6 = dual ? await saveRules(6) : new Set<string>();
      if (!v4 || !v6) return [];
      const saved = { 4: v4, 6: v6 };
      const want = [...baseRules(4), ...(dual ? baseRules(6) : []), ...nets.flatMap((n) => networkRules(this.rules(n)))];
      const missing = want.filter((r) => missingRules(saved[r.family ?? 4], [r]).length);
      const restored = missing.map(describeRule);
      if (missing.length) for (const n of nets) await addNetworkRules(this.rules(n));
      const shape = this.link.rules();
      const shapeMissing = [...shape, ...[...new Set(shape.map((r) => r.family ?? 4))].map(shapeBaseRule)].filter((r) => missingRules(saved[r.family ?? 4], [r]).length);
      if (shapeMissing.length) {
        await addShapeRules(shape);
        restored.push(...shapeMissing.map(describeRule));
      }
      // portmap's rules name the container (its jump) and its address (the DNAT).
      const nat = [...saved[4]].filter((l) => l.startsWith('nat -A CNI-'));
      const jumps = saved[4].has('nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT');
      for (const [id, st] of this.states) {
        const att = st.attachments[0];
        if (!st.ports?.length || !att?.result || !att.ip || busy(id)) continue;
        const whole = jumps && nat.some((l) => l.startsWith('nat -A CNI-HOSTPORT-DNAT') && l.includes(id)) && nat.some((l) => l.startsWith('nat -A CNI-DN-') && l.includes(`--to-destination ${att.ip}:`));
        if (whole) continue;
        await this.redoPorts(id, st, att);
        restored.push(`the published ports of ${id.slice(0, 12)}`);
      }
      if (restored.length) this.logger.warn('firewall rules someone else removed were put back', { count: restored.length, first: restored.slice(0, 3).join('; ') });
      return restored;
    });
  }

  /** portmap's rules of a container, made again: its DEL (what is left of them), then its ADD, chained on the saved result. */
  private async redoPorts(id: string, st: EndpointState, att: Attachment): Promise<void> {
    const plugin = att.conf.plugins.find((p) => p.type === 'portmap');
    if (!plugin || !att.result) return;
    const rt = { containerId: id, netns: st.netns, ifName: att.ifName, capabilityArgs: att.args };
    // What is left of them may be nothing: a DEL with nothing to take is no failure; the ADD says whether it worked.
    await this.cni.del({ ...att.conf, plugins: [plugin] }, rt, att.result).catch((e) => this.logger.debug('portmap DEL before a repair', { id, error: errorMessage(e) }));
    await this.cni.add({ ...att.conf, plugins: [plugin] }, rt, att.result);
  }

  // ---- check -------------------------------------------------------------------

  /** Namespaces, set-ups, leases, bridges, firewall rules and DNS zones that no running container or network accounts for. */
  async check(isRunning: (id: string) => boolean, busy: (id: string) => boolean): Promise<Finding[]> {
    const out: Finding[] = [...(await this.checkHostSide()), ...(await this.link.check())];
    const ids = new Set<string>();
    for (const f of await readdirIfExists(this.stateDir)) if (f.endsWith('.json')) ids.add(f.slice(0, -5));
    for (const f of await readdirIfExists(path.dirname(this.netnsPath('x')))) ids.add(f);
    for (const id of ids) {
      if (isRunning(id) || busy(id)) continue;
      out.push({ kind: 'network-endpoint', subject: id, detail: 'the network namespace and interfaces of a container that is not running', repair: () => this.detach(id) });
    }
    for (const netId of await readdirIfExists(this.ipamDir)) {
      const n = this.store.find(netId);
      for (const f of await readdirIfExists(path.join(this.ipamDir, netId))) {
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue;
        const file = path.join(this.ipamDir, netId, f);
        const owner = (await fsp.readFile(file, 'utf8').catch(() => '')).split(/\r?\n/)[0].trim();
        if (n && (busy(owner) || this.activeEndpoints(n.Id).some((x) => x.id === owner && x.att.ip === f))) continue;
        out.push({ kind: 'ip-lease', subject: `${f} on ${n?.Name ?? netId}`, detail: `an address leased to ${owner ? shortId(owner) : 'nobody'}, which does not hold it`, repair: () => fsp.rm(file, { force: true }) });
      }
    }
    return out;
  }

  /**
   * This daemon's bridges and firewall rules (both carry its mark) that no
   * network record owns, and networks whose bridge is gone (deleted by
   * hand). Run between network changes, so none is caught half made.
   */
  private checkHostSide(): Promise<Finding[]> {
    return this.serial(async () => {
      const out: Finding[] = [];
      const records = this.store.all().filter((n) => n.bridge);
      const bridges = new Set(records.map((n) => n.bridge));
      // The shared link's class rules are its own check's.
      const rules = (await ownedRules(this.owner)).filter((r) => r.table !== 'mangle');
      const unowned = new Set(rules.filter((r) => !ruleInterfaces(r).some((i) => bridges.has(i))));
      for (const b of await ownedLinks(this.owner, 'bridge')) {
        if (bridges.has(b)) continue;
        // The bridge's rules go with it, as one finding.
        const its = [...unowned].filter((r) => ruleInterfaces(r).includes(b));
        its.forEach((r) => unowned.delete(r));
        out.push({
          kind: 'network-bridge', subject: b, detail: `a bridge of this daemon's that no network record owns${its.length ? `, with ${its.length} firewall rules` : ''}`,
          repair: async () => {
            for (const r of its) await removeRule(r);
            await removeLink(b);
          },
        });
      }
      for (const r of unowned) {
        out.push({ kind: 'firewall-rule', subject: describeRule(r), detail: `a rule for ${ruleInterfaces(r).join(', ')}, which no network record owns`, repair: () => removeRule(r) });
      }
      const tunnels = new Set(records.flatMap((n) => (n.vxlan ? [n.vxlan.dev] : [])));
      for (const d of await ownedLinks(this.owner, 'vxlan')) {
        if (!tunnels.has(d)) out.push({ kind: 'network-bridge', subject: d, detail: 'a VXLAN device of this daemon\'s that no overlay network record owns', repair: () => removeLink(d) });
      }
      for (const n of records) {
        const gone = [n.bridge!, ...(n.vxlan ? [n.vxlan.dev] : [])].filter((i) => !interfaceExists(i));
        if (gone.length) out.push({ kind: 'network-bridge', subject: gone.join(', '), detail: `network ${n.Name}'s ${gone.map((i) => (i === n.bridge ? 'bridge' : 'VXLAN device')).join(' and ')} ${gone.length > 1 ? 'are' : 'is'} gone`, repair: () => this.ensureHostSide(n) });
      }
      return out;
    });
  }
}

export function emptyEndpoint(networkId: string): EndpointSettings {
  return { IPAMConfig: null, Links: null, Aliases: null, NetworkID: networkId, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null };
}

/** CNI bandwidth arguments from the container's rates (bits per second); the burst is 100 ms of the rate, at least 64 KiB. */
function bandwidthArgs(c: ContainerRecord, can: NetworkConfig['rateLimits']): Record<string, number> | undefined {
  const ingress = can.ingress ? Number(c.HostConfig.NetworkIngressRate ?? 0) : 0;
  const egress = can.egress ? Number(c.HostConfig.NetworkEgressRate ?? 0) : 0;
  if (!ingress && !egress) return undefined;
  const burst = (rate: number) => Math.max(Math.round(rate / 10), 64 * 1024 * 8);
  return { ingressRate: ingress, ingressBurst: ingress ? burst(ingress) : 0, egressRate: egress, egressBurst: egress ? burst(egress) : 0 };
}

/**
 * A container's legacy links on a user network, as docker's embedded DNS
 * serves them: the endpoint's Links (what the docker CLI sends), and the
 * container's own --link's on the network it runs on (what SDKs send).
 */
function linkAliases(c: ContainerRecord, n: NetworkRecord, ep: EndpointSettings): Record<string, string> | undefined {
  const mode = c.HostConfig.NetworkMode;
  const own = mode === n.Name || mode === n.Id ? (c.HostConfig.Links ?? []) : [];
  const out: Record<string, string> = {};
  for (const spec of [...own, ...(ep.Links ?? [])]) {
    const l = parseLink(spec);
    out[l.alias.toLowerCase()] = l.target;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Networks whose containers have an interface on a bridge of this host: bridge networks, and this node's part of an overlay. */
function carried(n: NetworkRecord): boolean {
  return n.Driver === 'bridge' || n.Driver === 'overlay';
}

/** User networks have name resolution; the default bridge has none, as docker's. */
function hasDns(n: NetworkRecord | undefined): boolean {
  return !!n && carried(n) && n.Name !== 'bridge';
}
