import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as packet from 'dns-packet';
import { errorMessage } from '../base/errors';
import type { Logger } from '../base/log';

/** One container's names on one network. */
export interface DnsRecord {
  id: string;
  ip: string;
  /** Its IPv6 address on a dual-stack network: the name's AAAA answer. */
  ip6?: string;
  names: string[];
  /** Where its other queries go (docker's --dns on a user network); the host's resolvers when none. */
  upstreams?: string[];
  /** Its legacy links: alias → the linked container's name, which only it resolves. */
  links?: Record<string, string>;
  /** This network's place among the container's networks (0: the one it was created on); its lookups go in this order. */
  rank?: number;
}

export interface NetworkZone {
  gateway: string;
  records: DnsRecord[];
}

/** The nameservers of the host's resolv.conf (the daemon is in the host's namespace, so loopback ones work too). */
export function hostNameservers(text = readResolvConf()): string[] {
  return text.split('\n').flatMap((l) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1] ?? []);
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

const FORWARD_TIMEOUT_MS = 5000;
const RESOLV_CONF_TTL_MS = 5000;

/** The host's nameservers, read again at most every few seconds rather than at each forwarded query. */
function recentHostNameservers(): () => string[] {
  let at = 0;
  let servers: string[] = [];
  return () => {
    if (Date.now() - at > RESOLV_CONF_TTL_MS) {
      servers = hostNameservers();
      at = Date.now();
    }
    return servers;
  };
}

/**
 * The addresses `name` has for the container at `asker`: its name, aliases or
 * short id on the first of that container's networks (in the order it joined
 * them) where the name is known, whichever of its addresses asked. As docker's
 * resolver: a name on two of its networks answers from the first, so a
 * container's own network wins over one it was connected to later.
 */
export function lookupIn(zones: NetworkZone[], asker: string, name: string, family: 4 | 6 = 4): string[] | undefined {
  let n = name.toLowerCase().replace(/\.$/, '');
  const own = zones.flatMap((z) => z.records.filter((r) => r.ip === asker || (r.ip6 !== undefined && r.ip6 === asker)));
  const askers = new Set(own.map((r) => r.id));
  // A link's alias is the asker's own name for the container it links to.
  const linked = own.map((r) => r.links?.[n]).find((t) => t !== undefined);
  if (linked) n = linked.toLowerCase();
  const rankIn = (z: NetworkZone) => Math.min(...z.records.filter((r) => askers.has(r.id)).map((r) => r.rank ?? 0));
  const mine = zones.filter((z) => z.records.some((r) => askers.has(r.id))).map((z) => ({ z, rank: rankIn(z) })).sort((a, b) => a.rank - b.rank);
  for (const { z } of mine) {
    const found = z.records.filter((r) => r.names.some((x) => x.toLowerCase() === n));
    // A known name without an address of the family asked is an empty answer, not a miss to forward.
    if (found.length) return [...new Set(found.flatMap((r) => (family === 4 ? [r.ip] : r.ip6 ? [r.ip6] : [])))];
  }
  return undefined;
}

/**
 * Name resolution on user networks, served by the daemon on each network's
 * gateway address (UDP 53), as docker's embedded DNS is: a container's name,
 * its aliases and its short id resolve for containers that share a network
 * with it; other names are forwarded to the host's resolvers. The records
 * change in memory with every attach and detach, so a name is there before
 * the start that made it returns (aardvark-dns, tried first, reloads on
 * SIGHUP in the background and lost queries meanwhile).
 */
export class DnsServer {
  private readonly zones = new Map<string, NetworkZone>();
  private readonly sockets = new Map<string, dgram.Socket>();

  constructor(
    private readonly logger: Logger,
    private readonly upstreams: () => string[] = recentHostNameservers(),
  ) {}

  /** Sets one network's records; with no gateway the network is gone and its listener closes. */
  async set(network: string, gateway: string | undefined, records: DnsRecord[]): Promise<void> {
    if (gateway) this.zones.set(network, { gateway, records });
    else this.zones.delete(network);
    const wanted = new Set([...this.zones.values()].map((z) => z.gateway));
    for (const [gw, s] of this.sockets) {
      if (wanted.has(gw)) continue;
      s.close();
      this.sockets.delete(gw);
    }
    for (const gw of wanted) if (!this.sockets.has(gw)) await this.listen(gw);
  }

  networks(): string[] {
    return [...this.zones.keys()];
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private listen(gateway: string): Promise<void> {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.sockets.set(gateway, s);
    s.on('message', (msg, from) => void this.answer(s, msg, from).catch((e) => this.logger.warn('dns', { error: errorMessage(e) })));
    return new Promise((resolve, reject) => {
      s.once('error', (e) => {
        this.sockets.delete(gateway);
        reject(new Error(`DNS server cannot listen on ${gateway}:53: ${e.message}`));
      });
      s.bind(53, gateway, () => {
        s.removeAllListeners('error');
        s.on('error', (e) => this.logger.warn('dns socket', { gateway, error: e.message }));
        resolve();
      });
    });
  }

  lookup(asker: string, name: string, family: 4 | 6 = 4): string[] | undefined {
    return lookupIn([...this.zones.values()], asker, name, family);
  }

  private async answer(s: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo): Promise<void> {
    let q: packet.Packet;
    try {
      q = packet.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const type = question.type === 'AAAA' ? 'AAAA' : 'A';
    const ips = this.lookup(from.address, question.name, type === 'AAAA' ? 6 : 4);
    if (ips) {
      // Several addresses (a service's tasks) come in a new order each time, as docker's resolver shuffles them:
      // clients that take the first spread over them.
      const answers: packet.Answer[] = question.type === type ? shuffled(ips).map((ip) => ({ type, name: question.name, ttl: 600, data: ip })) : [];
      const reply = packet.encode({ id: q.id, type: 'response', flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE, questions: [question], answers });
      s.send(reply, from.port, from.address);
      return;
    }
    const own = [...this.zones.values()].flatMap((z) => z.records).find((r) => r.ip === from.address)?.upstreams;
    s.send(await this.forward(msg, q, own?.length ? own : this.upstreams()), from.port, from.address);
  }

  /** Asks the servers in turn; SERVFAIL when none answers in time. */
  private async forward(msg: Buffer, q: packet.Packet, servers: string[]): Promise<Buffer> {
    for (const server of servers) {
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        const c = dgram.createSocket('udp4');
        const done = (b?: Buffer) => {
          clearTimeout(timer);
          c.close();
          resolve(b);
        };
        const timer = setTimeout(() => done(), FORWARD_TIMEOUT_MS);
        c.on('error', () => done());
        c.on('message', (b) => done(b));
        c.send(msg, 53, server);
      });
      if (reply) return reply;
    }
    return packet.encode({ id: q.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | 2 /* SERVFAIL */, questions: q.questions });
  }
}

/** A copy in random order (Fisher-Yates). */
function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
