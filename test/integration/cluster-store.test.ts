import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/base/log';
import { EtcdMember, freePort } from '../../src/cluster/store/etcd-member';
import { ClusterStore, type Mirror, type MirrorChange } from '../../src/cluster/store/store';
import { processesMentioning } from './harness';

/**
 * The store in memory (ClusterStore.mirror), which agents converge from
 * and the leader plans from once it holds the leader's own last commit:
 * against a real etcd member (Debian's etcd-server), its own data folder
 * and ports.
 */
describe('the cluster store kept in memory', { timeout: 60_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-store-'));
  let member: EtcdMember;
  let store: ClusterStore;
  let mirror: Mirror;
  const heard: MirrorChange[][] = [];
  const failures: string[] = [];
  const key = (k: string) => `/berth/cluster/${k}`;

  before(async () => {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    member = new EtcdMember({ name: 'm1', dataDir: path.join(dir, 'etcd'), host: '127.0.0.1', clientPort, peerPort, initialCluster: `m1=http://127.0.0.1:${peerPort}`, state: 'new' }, createLogger('error'));
    await member.start();
    store = new ClusterStore([member.clientUrl]);
    mirror = await store.mirror((c) => heard.push(c), (what, e) => failures.push(`${what}: ${String(e)}`));
  });
  after(async () => {
    await mirror?.stop();
    store?.close();
    await member?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(processesMentioning(dir), [], 'no etcd left running');
  });

  test('it holds a write once caught up with the write\'s revision, and says which keys are new', async () => {
    const r = await store.client.put(key('services/s1')).value(JSON.stringify({ id: 's1', spec: { name: 'web' }, version: 1 })).exec();
    const at = Number(r.header.revision);
    assert.equal(await mirror.caughtUp(at, 5000), true);
    assert.deepEqual(mirror.snapshot().services.map((s) => [s.id, s.index]), [['s1', at]]);
    assert.ok(heard.flat().some((c) => c.key === 'services/s1' && c.created), 'the first put is a creation');

    const again = Number((await store.client.put(key('services/s1')).value(JSON.stringify({ id: 's1', spec: { name: 'web' }, version: 2 })).exec()).header.revision);
    assert.equal(await mirror.caughtUp(again, 5000), true);
    assert.equal(mirror.snapshot().services[0].version, 2);
    const last = heard.flat().filter((c) => c.key === 'services/s1').at(-1);
    assert.equal(last?.created, undefined, 'a rewrite is no creation');

    await store.client.delete().key(key('services/s1')).exec();
    const gone = Number((await store.client.get(key('services/s1')).exec()).header.revision);
    assert.equal(await mirror.caughtUp(gone, 5000), true);
    assert.deepEqual(mirror.snapshot().services, []);
    assert.deepEqual(failures, [], 'its watch never failed');
  });

  test('a revision not yet written is not reached: false after the wait, and at once when stopped', async () => {
    const now = Number((await store.client.get(key('none')).exec()).header.revision);
    const t0 = Date.now();
    assert.equal(await mirror.caughtUp(now + 10, 300), false);
    assert.ok(Date.now() - t0 >= 290, 'it waited');
    const other = await store.mirror(() => undefined, () => undefined);
    const waiting = other.caughtUp(now + 10, 30_000);
    await other.stop();
    assert.equal(await waiting, false);
  });
});
