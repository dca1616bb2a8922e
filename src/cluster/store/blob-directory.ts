import type { Etcd3, Lease } from 'etcd3';
import { writeAll } from './txn';

/** Outside the cluster's records (which every agent mirrors): who holds which blob is asked for, not watched. */
const PREFIX = '/berth/blobs/';
/** A node's keys here live on a lease of its own: a dead node stops being a source within seconds. */
const TTL_SECONDS = 10;

/**
 * Which nodes hold which image blobs, and which node is fetching one from
 * its registry now, in etcd: `<digest>/holders/<node>` and
 * `<digest>/fetching` (a claim, made only where none is). So that N nodes
 * pulling one image cost the registry one copy: the first to claim a blob
 * fetches it, the others fetch it from a holder (or wait for the fetcher).
 */
export class BlobDirectory {
  private lease?: Lease;
  /** Told when this node's lease is lost, and with it every key it had here. */
  onLost?: () => void;

  constructor(
    private readonly client: Etcd3,
    private readonly nodeId: string,
  ) {}

  private key(digest: string, ...rest: string[]): string {
    return `${PREFIX}${digest}/${rest.join('/')}`;
  }

  /** This node's lease, made again when lost (etcd away past the TTL). */
  private own(): Lease {
    if (!this.lease) {
      const l = this.client.lease(TTL_SECONDS);
      l.on('lost', () => {
        if (this.lease !== l) return;
        this.lease = undefined;
        this.onLost?.();
      });
      this.lease = l;
    }
    return this.lease;
  }

  /** The nodes that hold the blob, and the one fetching it, if any. */
  async sources(digest: string): Promise<{ holders: string[]; fetcher?: string }> {
    const kvs = await this.client.getAll().prefix(this.key(digest)).strings();
    const holders = Object.keys(kvs).filter((k) => k.startsWith(this.key(digest, 'holders', ''))).map((k) => k.slice(this.key(digest, 'holders', '').length));
    return { holders, fetcher: kvs[this.key(digest, 'fetching')] };
  }

  /** Claims the fetch from the registry; false when another node has. */
  async claim(digest: string): Promise<boolean> {
    const leaseId = await this.own().grant();
    const key = this.key(digest, 'fetching');
    const r = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(this.nodeId).lease(leaseId)).commit();
    return r.succeeded;
  }

  /** This node holds the blob now: it says so, and its claim (if any) ends. */
  async hold(digest: string): Promise<void> {
    const leaseId = await this.own().grant();
    const fetching = this.key(digest, 'fetching');
    await this.client.if(fetching, 'Value', '==', this.nodeId)
      .then(this.client.put(this.key(digest, 'holders', this.nodeId)).value('').lease(leaseId), this.client.delete().key(fetching))
      .else(this.client.put(this.key(digest, 'holders', this.nodeId)).value('').lease(leaseId))
      .commit();
  }

  /** This node holds all these blobs (a start, or a lease made again): said in transactions of a bounded size. */
  async holdAll(digests: string[]): Promise<void> {
    const leaseId = await this.own().grant();
    await writeAll(this.client, this.key(this.nodeId), digests.map((d) => this.client.put(this.key(d, 'holders', this.nodeId)).value('').lease(leaseId)));
  }

  /** This node no longer holds the blob. */
  async drop(digest: string): Promise<void> {
    await this.client.delete().key(this.key(digest, 'holders', this.nodeId));
  }

  /** Its fetch failed: the claim ends, so another node may try. */
  async release(digest: string): Promise<void> {
    const fetching = this.key(digest, 'fetching');
    await this.client.if(fetching, 'Value', '==', this.nodeId).then(this.client.delete().key(fetching)).commit();
  }

  /** Its keys go with its lease (a node that leaves is no source). */
  async close(): Promise<void> {
    const l = this.lease;
    this.lease = undefined;
    await l?.revoke().catch(() => undefined); // lost already: its keys went with it
  }
}
