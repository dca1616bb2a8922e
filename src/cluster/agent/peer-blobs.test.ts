import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createLogger } from '../../base/log';
import type { BlobFetcher } from '../../engine/images/registries';
import { ClusterEndpoint } from '../tls/endpoint';
import { issueOwn, makeCa, readCredentials } from '../tls/pki';
import { PeerBlobs, spread } from './peer-blobs';

const D = `sha256:${'ab'.repeat(32)}`;
const DATA = Buffer.alloc(3 << 20, 7);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The directory of blobs as etcd keeps it, in memory: holders and one claim per blob. */
class Directory {
  holders = new Map<string, Set<string>>();
  fetching = new Map<string, string>();
  of(node: string) {
    return {
      sources: async (d: string) => ({ holders: [...(this.holders.get(d) ?? [])], fetcher: this.fetching.get(d) }),
      claim: async (d: string) => (this.fetching.has(d) ? false : (this.fetching.set(d, node), true)),
      hold: async (d: string) => {
        (this.holders.get(d) ?? this.holders.set(d, new Set()).get(d)!).add(node);
        if (this.fetching.get(d) === node) this.fetching.delete(d);
      },
      holdAll: async (ds: string[]) => {
        for (const d of ds) (this.holders.get(d) ?? this.holders.set(d, new Set()).get(d)!).add(node);
      },
      drop: async (d: string) => void this.holders.get(d)?.delete(node),
      onLost: undefined as (() => void) | undefined,
      release: async (d: string) => void (this.fetching.get(d) === node && this.fetching.delete(d)),
      close: async () => void [...this.holders.values()].forEach((s) => s.delete(node)),
    };
  }
}

/** A registry that takes its time, counts what it serves, and fails when told to. */
class Registry implements BlobFetcher {
  served = 0;
  failNext = false;
  async fetch(_d: string, offset: number) {
    await sleep(200);
    this.served++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('registry: connection reset');
    }
    return { stream: Readable.from([DATA.subarray(offset)]), offset };
  }
}

interface Node {
  id: string;
  held: Map<string, Buffer>;
  peers: PeerBlobs;
  endpoint: ClusterEndpoint;
}

const dirs: string[] = [];
const nodes: Node[] = [];
const addrs = new Map<string, string>();
let directory: Directory;

before(async () => {
  const ca = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-peers-'));
  dirs.push(ca);
  await makeCa(ca, 'c1');
  directory = new Directory();
  for (const id of ['n1', 'n2', 'n3']) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-peers-'));
    dirs.push(dir);
    for (const f of ['ca.crt', 'ca.key']) fs.copyFileSync(path.join(ca, f), path.join(dir, f));
    await issueOwn(dir, { nodeId: id, clusterId: 'c1', role: 'worker', ip: '127.0.0.1' });
    const held = new Map<string, Buffer>();
    const engine = {
      readBlob: async (d: string, offset: number) => (held.has(d) ? { size: held.get(d)!.length, stream: Readable.from([held.get(d)!.subarray(offset)]) } : undefined),
      heldBlobs: async () => [...held.keys()],
      onBlobChange: () => () => {},
    };
    const peers = new PeerBlobs(directory.of(id), async (n) => addrs.get(n), id, readCredentials(dir), engine, createLogger('error'));
    const endpoint = await ClusterEndpoint.listen('127.0.0.1', 0, readCredentials(dir), { taskLogs: async () => undefined, blob: (d, o, w) => peers.serve(d, o, w) }, createLogger('error'));
    addrs.set(id, `127.0.0.1:${endpoint.port}`);
    nodes.push({ id, held, peers, endpoint });
  }
});

after(async () => {
  for (const n of nodes) await n.endpoint.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A node's pull of the blob, as pullImage does it: fetch, store, say so. */
async function pull(n: Node, registry: Registry, offset = 0): Promise<Buffer> {
  const src = n.peers.sourcing(registry);
  const got = await src.fetch(D, offset);
  const chunks: Buffer[] = [];
  for await (const c of got.stream) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  assert.equal(got.offset, offset);
  if (offset === 0) {
    n.held.set(D, bytes);
    src.stored?.(D);
  }
  return bytes;
}

const reset = () => {
  for (const n of nodes) n.held.clear();
  directory.holders.clear();
  directory.fetching.clear();
};

test('nodes pulling a blob at once: the registry serves it once, the others wait for the node that fetches it', async () => {
  reset();
  const registry = new Registry();
  const got = await Promise.all(nodes.map((n) => pull(n, registry)));
  assert.equal(registry.served, 1);
  for (const b of got) assert.ok(b.equals(DATA));
  assert.deepEqual([...directory.holders.get(D)!].sort(), ['n1', 'n2', 'n3']);
  assert.equal(directory.fetching.size, 0);
});

test('a later pull comes from a holder, from an offset where a download resumes', async () => {
  reset();
  const registry = new Registry();
  await pull(nodes[0], registry);
  assert.ok((await pull(nodes[1], registry)).equals(DATA));
  assert.ok((await pull(nodes[2], registry, 1000)).equals(DATA.subarray(1000)));
  assert.equal(registry.served, 1);
});

test('a fetch from the registry that fails ends its claim: a waiting node claims it and fetches it itself', async () => {
  reset();
  const registry = new Registry();
  registry.failNext = true;
  const first = pull(nodes[0], registry).then(() => 'pulled', (e: Error) => e.message);
  await sleep(50);
  const second = pull(nodes[1], registry);
  assert.equal(await first, 'registry: connection reset');
  assert.ok((await second).equals(DATA));
  assert.equal(registry.served, 2);
  assert.deepEqual([...directory.holders.get(D)!], ['n2']);
});

test('holders that do not answer, or no longer hold it, are passed over for the registry', async () => {
  reset();
  const registry = new Registry();
  directory.holders.set(D, new Set(['gone', 'n1'])); // an address nobody has, and a node that holds nothing
  assert.ok((await pull(nodes[2], registry)).equals(DATA));
  assert.equal(registry.served, 1);
});

test('askers spread over the holders, each node in an order of its own', () => {
  const holders = ['a', 'b', 'c', 'd'];
  const firsts = new Set(Array.from({ length: 40 }, (_, i) => spread(holders, `node${i}`)[0]));
  assert.ok(firsts.size > 1);
  for (let i = 0; i < 40; i++) assert.deepEqual([...spread(holders, `node${i}`)].sort(), holders);
  assert.deepEqual(spread(holders, 'x'), spread(holders, 'x'));
  assert.deepEqual(spread([], 'x'), []);
});

test('a node says what it holds: all at its start (a restart), each blob stored after, all again when its lease is lost; a removed one goes', async () => {
  const dir = new Directory();
  const d = dir.of('n9');
  const D2 = `sha256:${'cd'.repeat(32)}`;
  const held = new Map([[D, DATA]]);
  let tell: ((e: { digest: string; kind: 'added' | 'removed' }) => void) | undefined;
  const engine = {
    readBlob: async () => undefined,
    heldBlobs: async () => [...held.keys()],
    onBlobChange: (l: typeof tell) => ((tell = l), () => (tell = undefined)),
  };
  const peers = new PeerBlobs(d, async () => undefined, 'n9', readCredentials(dirs[1]), engine, createLogger('error'));
  const holders = (digest: string) => [...(dir.holders.get(digest) ?? [])];
  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 100 && !ok(); i++) await sleep(10);
    assert.ok(ok());
  };
  peers.start();
  await until(() => holders(D).includes('n9'));
  held.set(D2, DATA);
  tell!({ digest: D2, kind: 'added' });
  await until(() => holders(D2).includes('n9'));
  // The lease is lost: its keys went with it; all are said again.
  dir.holders.clear();
  d.onLost!();
  await until(() => holders(D).includes('n9') && holders(D2).includes('n9'));
  held.delete(D);
  tell!({ digest: D, kind: 'removed' });
  await until(() => !holders(D).includes('n9'));
  await peers.close();
  assert.equal(tell, undefined, 'closed, it no longer listens');
  assert.deepEqual(holders(D2), [], 'closed, it is no source');
});
