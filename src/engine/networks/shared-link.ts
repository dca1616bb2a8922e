import * as path from 'node:path';
import { conflict, errorMessage, invalidArgument } from '../../base/errors';
import { atomicWriteJson, readJsonIfExists } from '../../base/files';
import type { Finding } from '../../base/finding';
import type { Logger } from '../../base/log';
import { admissionError, type Bandwidth, planLink } from '../../network/bandwidth';
import { addShapeRules, ownedRules, removeRule, type Rule, shapeRules } from '../../network/firewall';
import { applyLink, printedClassId, removeLink } from '../../network/htb';
import type { HostConfig } from '../model';

export interface SharedLinkConfig {
  /** The device containers' outside traffic leaves by (the default route's when not given). */
  device?: string;
  /** Its capacity in bits per second (the device's speed when it reports one). */
  capacity?: number;
  /** Why this host cannot shape (it lacks HTB or iptables' CLASSIFY), if so. */
  unsupported?: string;
}

interface Member {
  minor: number;
  bw: Bandwidth;
  ip?: string;
  ip6?: string;
}

interface LinkState {
  device: string;
  members: Record<string, Member>;
}

const FIRST_MINOR = 0x10;

/** A HostConfig's share in the network layer's terms (undefined: none asked). */
export function bandwidthOf(h: HostConfig): Bandwidth | undefined {
  const b = h.NetworkBandwidth;
  if (!b) return undefined;
  const bw = { guarantee: b.Guarantee ?? 0, limit: b.Limit ?? 0, priority: b.Priority ?? 0 };
  return bw.guarantee || bw.limit || bw.priority ? bw : undefined;
}

/**
 * The shared link: the device by which containers' traffic leaves the
 * host, shaped by HTB so that each running container with a share gets its
 * guarantee when busy, borrows what others leave by priority, and never
 * passes its limit. Shares are admitted at start (and update) while the
 * guarantees of running containers fit the link's capacity. The link's
 * classes are made when the first share starts and taken away with the
 * last, so a daemon whose containers ask nothing never touches the device.
 */
export class SharedLink {
  private state: LinkState;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly cfg: SharedLinkConfig,
    private readonly file: string,
    private readonly owner: string,
    private readonly logger: Logger,
    saved: LinkState | undefined,
  ) {
    this.state = saved ?? { device: cfg.device ?? '', members: {} };
  }

  static async open(execRoot: string, cfg: SharedLinkConfig, owner: string, logger: Logger): Promise<SharedLink> {
    const file = path.join(execRoot, 'networks', 'shared-link.json');
    return new SharedLink(cfg, file, owner, logger, (await readJsonIfExists<LinkState>(file)) ?? undefined);
  }

  /** Refuses a share this daemon could never give (at create and update, before anything changes). */
  validate(bw: Bandwidth, networkMode: string | undefined): void {
    if (networkMode === 'host' || networkMode === 'none' || networkMode?.startsWith('container:'))
      throw invalidArgument(`--network-bandwidth needs a network of the container's own (bridge), not --network ${networkMode}`);
    const { device, capacity } = this.link();
    const e = admissionError(capacity, [], bw.guarantee, device);
    if (e) throw invalidArgument(`invalid --network-bandwidth: ${e}`);
  }

  /** The link's device and capacity, or a clear refusal naming the daemon options. */
  private link(): { device: string; capacity: number } {
    if (this.cfg.unsupported) throw invalidArgument(`--network-bandwidth cannot be given on this host: ${this.cfg.unsupported}`);
    if (!this.cfg.device) throw invalidArgument('--network-bandwidth needs a shared link: this host has no default route; start the daemon with --bandwidth-link DEVICE --bandwidth-capacity RATE');
    if (!this.cfg.capacity) throw invalidArgument(`--network-bandwidth needs the capacity of the shared link ${this.cfg.device}, which does not report its speed: start the daemon with --bandwidth-capacity RATE (such as 1gbit)`);
    return { device: this.cfg.device, capacity: this.cfg.capacity };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    // The chain only orders the next call; this call's failure is its caller's to hear.
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Whether the share fits beside the running containers' (their current one replaced); a conflict error if not. */
  admit(id: string, bw: Bandwidth): void {
    const { device, capacity } = this.link();
    const granted = Object.entries(this.state.members).filter(([k]) => k !== id).map(([, m]) => m.bw.guarantee);
    const e = admissionError(capacity, granted, bw.guarantee, device);
    if (e) throw conflict(e);
  }

  /** Gives a running container its share (or changes it), classified by its addresses. */
  set(id: string, bw: Bandwidth, ip: string | undefined, ip6: string | undefined): Promise<void> {
    return this.serial(async () => {
      this.admit(id, bw);
      const old = this.state.members[id];
      const used = new Set(Object.values(this.state.members).map((m) => m.minor));
      let minor = old?.minor ?? FIRST_MINOR;
      while (!old && used.has(minor)) minor++;
      const next: Member = { minor, bw, ...(ip ? { ip } : {}), ...(ip6 ? { ip6 } : {}) };
      this.state = { device: this.link().device, members: { ...this.state.members, [id]: next } };
      await this.save();
      await this.apply();
      if (old && (old.ip !== next.ip || old.ip6 !== next.ip6)) for (const r of this.rulesOf(old)) await removeRule(r);
    });
  }

  /** Takes a container's share away (it stopped, or its update lifted it); nothing to take is no failure. */
  release(id: string): Promise<void> {
    return this.serial(async () => {
      const m = this.state.members[id];
      if (!m) return;
      for (const r of this.rulesOf(m)) await removeRule(r);
      const { [id]: _gone, ...rest } = this.state.members;
      this.state = { ...this.state, members: rest };
      await this.save();
      await this.apply();
    });
  }

  /** Makes the device's classes and the rules what the members say (at open, after a restart, and after each change). */
  private async apply(): Promise<void> {
    const members = Object.values(this.state.members);
    if (!this.state.device) return;
    if (!members.length) return removeLink(this.state.device);
    const capacity = this.link().capacity;
    await applyLink(this.state.device, planLink(capacity, members));
    await addShapeRules(this.rules());
  }

  /** After a daemon restart: members that no longer run are dropped, the rest made again (idempotent). */
  restore(running: (id: string) => boolean): Promise<void> {
    return this.serial(async () => {
      const gone = Object.keys(this.state.members).filter((id) => !running(id));
      for (const id of gone) for (const r of this.rulesOf(this.state.members[id])) await removeRule(r);
      this.state = { ...this.state, members: Object.fromEntries(Object.entries(this.state.members).filter(([id]) => running(id))) };
      await this.save();
      try {
        await this.apply();
      } catch (e) {
        // A link that went away, or a capacity option since dropped: the containers run unshaped, and say why.
        this.logger.warn('the shared link could not be shaped again after a restart', { device: this.state.device, error: errorMessage(e) });
      }
    });
  }

  /** The classification rules of the running shares (the firewall watch puts back what someone removed). */
  rules(): Rule[] {
    return Object.values(this.state.members).flatMap((m) => this.rulesOf(m));
  }

  private rulesOf(m: Member): Rule[] {
    return shapeRules({ device: this.state.device, classId: printedClassId(m.minor), ip: m.ip, ip6: m.ip6, owner: this.owner });
  }


  /** Classification rules of this daemon's that no running share accounts for. */
  async check(): Promise<Finding[]> {
    const want = new Set(this.rules().map((r) => r.args.join(' ')));
    const out: Finding[] = [];
    for (const r of await ownedRules(this.owner)) {
      if (r.table !== 'mangle' || want.has(r.args.join(' '))) continue;
      out.push({ kind: 'firewall-rule', subject: `-t mangle -A ${r.chain} ${r.args.join(' ')}`, detail: 'a shared-link class rule of a container that holds no share', repair: () => removeRule(r) });
    }
    return out;
  }

  private async save(): Promise<void> {
    await atomicWriteJson(this.file, this.state);
  }
}
