import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { errorMessage } from '../../base/errors';
import type { Logger } from '../../base/log';
import type { BlobFetcher } from '../../engine/images/registries';
import type { BlobDirectory } from '../store/blob-directory';
import type { Credentials } from '../tls/pki';
import type { AgentEngine } from './agent';

/** How long a node asked for a blob it is fetching from its registry waits for it before it answers that it has none. */
const WAIT_FOR_FETCH_MS = 10 * 60_000;
/** After the registry's bytes end, how long the blob may take to be checked and stored before the claim ends anyway. */
const STORE_GRACE_MS = 60_000;
/** A peer that does not answer within this is passed over. */
const CONNECT_MS = 10_000;

type Fetched = { stream: Readable; offset: number };

/**
 * Image blobs from the cluster's nodes before the registry: a node that
 * pulls asks the nodes that hold a blob; where none does, it claims the
 * blob and fetches it from the registry, and nodes that want it meanwhile
 * ask it and wait until it has it. So five nodes pulling one image cost the
 * registry about one copy. Every blob a node stores makes it a holder.
 * Whatever goes wrong among the peers, the registry is the answer.
 */
export class PeerBlobs {
  /** Blobs this node is fetching from a registry now; peers asking for one wait for it. */
  private readonly fetching = new Map<string, { done: Promise<void>; settle: () => void }>();
  /** Blobs said to be held under the present lease (each said once). */
  private readonly said = new Set<string>();
  private unwatch?: () => void;
  private closed = false;

  constructor(
    private readonly directory: Pick<BlobDirectory, 'sources' | 'claim' | 'hold' | 'holdAll' | 'drop' | 'release' | 'close' | 'onLost'>,
    private readonly nodeAddr: (nodeId: string) => Promise<string | undefined>,
    private readonly nodeId: string,
    private readonly creds: Credentials,
    private readonly engine: Pick<AgentEngine, 'readBlob' | 'heldBlobs' | 'onBlobChange'>,
    private readonly logger: Logger,
  ) {}

  /**
   * Says which blobs this node holds: all of them now (a restarted daemon
   * held them before), each one stored from here on (pulled, built, loaded),
   * and all again whenever the lease they lived on is lost.
   */
  start(): void {
    this.unwatch = this.engine.onBlobChange((e) => {
      if (e.kind === 'added') {
        // A blob fetched from the registry is said when its claim ends (stored()).
        if (!this.fetching.has(e.digest)) void this.sayHeld(e.digest);
        return;
      }
      this.said.delete(e.digest);
      this.directory.drop(e.digest).catch((err: unknown) => this.logger.warn('blob removed, said to the cluster', { digest: e.digest, error: errorMessage(err) }));
    });
    this.directory.onLost = () => {
      this.said.clear();
      void this.sayAll();
    };
    void this.sayAll();
  }

  /** Every blob of this node's, until it is said (etcd may be away: it is tried again every few seconds). */
  private async sayAll(): Promise<void> {
    for (let wait = 1000; !this.closed; wait = Math.min(wait * 2, 10_000)) {
      try {
        const all = await this.engine.heldBlobs();
        await this.directory.holdAll(all);
        for (const d of all) this.said.add(d);
        this.logger.debug('blobs said to the cluster', { count: all.length });
        return;
      } catch (e) {
        this.logger.warn('blobs held, said to the cluster', { error: errorMessage(e) });
      }
      await new Promise((r) => setTimeout(r, wait).unref());
    }
  }

  private async sayHeld(digest: string): Promise<void> {
    if (this.said.has(digest)) return;
    this.said.add(digest);
    await this.directory.hold(digest).catch((e: unknown) => {
      this.said.delete(digest);
      this.logger.warn('blob held, said to the cluster', { digest, error: errorMessage(e) });
    });
  }

  /** The source this node's pulls use, given the registry's. */
  readonly sourcing = (registry: BlobFetcher): BlobFetcher => ({
    fetch: (digest, offset) => this.fetch(digest, offset, registry),
    stored: (digest) => void this.stored(digest),
  });

  /** A blob for a peer, from `offset` on: once this node has it, when it is fetching it and `wait` is asked. */
  async serve(digest: string, offset: number, wait: boolean): Promise<{ size: number; stream: Readable } | undefined> {
    const f = this.fetching.get(digest);
    if (f && wait) await Promise.race([f.done, new Promise((r) => setTimeout(r, WAIT_FOR_FETCH_MS).unref())]);
    return this.engine.readBlob(digest, offset);
  }

  /** Its keys in the directory go: a node that leaves is no source. */
  close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    this.directory.onLost = undefined;
    return this.directory.close();
  }

  private async fetch(digest: string, offset: number, registry: BlobFetcher): Promise<Fetched> {
    try {
      // Three looks: a holder that fails, or a fetcher whose fetch fails, sends this node to look again.
      for (let look = 0; look < 3; look++) {
        const { holders, fetcher } = await this.directory.sources(digest);
        for (const peer of spread(holders.filter((n) => n !== this.nodeId), this.nodeId)) {
          const got = await this.fromPeer(peer, digest, offset, false);
          if (got) return got;
        }
        if (fetcher && fetcher !== this.nodeId) {
          const got = await this.fromPeer(fetcher, digest, offset, true);
          if (got) return got;
          continue;
        }
        if (fetcher === this.nodeId || (await this.directory.claim(digest))) break;
      }
    } catch (e) {
      this.logger.warn('blob from the cluster\'s nodes', { digest, error: errorMessage(e) });
    }
    return this.fromRegistry(digest, offset, registry);
  }

  private async fromRegistry(digest: string, offset: number, registry: BlobFetcher): Promise<Fetched> {
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    if (!this.fetching.has(digest)) this.fetching.set(digest, { done, settle });
    try {
      const got = await registry.fetch(digest, offset);
      // Stored (stored() says so) or not within the grace after its bytes ended: the claim ends either way.
      got.stream.once('close', () => setTimeout(() => this.settle(digest, false), STORE_GRACE_MS).unref());
      return got;
    } catch (e) {
      this.settle(digest, false);
      throw e;
    }
  }

  private settle(digest: string, stored: boolean): void {
    const f = this.fetching.get(digest);
    if (!f) return;
    this.fetching.delete(digest);
    f.settle();
    // Another node may claim it now.
    if (!stored) this.directory.release(digest).catch((e: unknown) => this.logger.warn('blob claim', { digest, error: errorMessage(e) }));
  }

  private async stored(digest: string): Promise<void> {
    this.settle(digest, true);
    // Said even if said before: hold() also ends this node's claim on it.
    this.said.delete(digest);
    await this.sayHeld(digest);
  }

  /** The blob from a peer's cluster endpoint (mutual TLS); undefined when it has none or does not answer. */
  private async fromPeer(nodeId: string, digest: string, offset: number, wait: boolean): Promise<Fetched | undefined> {
    const addr = await this.nodeAddr(nodeId);
    const m = addr ? /^(.*):(\d+)$/.exec(addr) : null;
    if (!m) return undefined;
    return new Promise((resolve) => {
      const path = `/blobs/${digest}?offset=${offset}${wait ? '&wait=1' : ''}`;
      const req = https.request({ host: m[1], port: Number(m[2]), path, ca: this.creds.ca, cert: this.creds.cert, key: this.creds.key, timeout: wait ? WAIT_FOR_FETCH_MS : CONNECT_MS }, (res) => {
        req.setTimeout(0);
        if (res.statusCode !== 200) {
          res.resume();
          return resolve(undefined);
        }
        resolve({ stream: res, offset: Number(res.headers['x-berth-offset'] ?? 0) });
      });
      req.on('timeout', () => req.destroy(new Error('no answer')));
      req.on('error', (e) => {
        this.logger.warn('blob from a peer', { node: nodeId, digest, error: errorMessage(e) });
        resolve(undefined);
      });
      req.end();
    });
  }
}

/** The holders in an order of this node's own, so that many nodes asking at once ask different holders first. */
export function spread(holders: string[], nodeId: string): string[] {
  if (!holders.length) return holders;
  const sorted = [...holders].sort();
  let h = 0;
  for (const ch of nodeId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const i = h % sorted.length;
  return [...sorted.slice(i), ...sorted.slice(0, i)];
}
