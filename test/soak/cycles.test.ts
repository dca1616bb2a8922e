import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { api, countEntries, leaks, suiteDaemon, type TestDaemon, zombiesAfterOrphans } from '../integration/harness';

const CYCLES = Number(process.env.BERTH_SOAK_CYCLES ?? 1000);

async function ok(d: TestDaemon, method: string, url: string, body?: unknown): Promise<string> {
  const r = await api(d, method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.body}`);
  return r.body;
}

/** Create, start, wait for the exit and remove, through the Engine API as docker run does. */
async function cycle(d: TestDaemon, o: { autoRemove?: boolean; volume?: boolean }): Promise<void> {
  const body = {
    Image: 'busybox',
    Cmd: o.volume ? ['sh', '-c', 'echo x > /data/x'] : ['true'],
    Volumes: o.volume ? { '/data': {} } : undefined,
    HostConfig: { AutoRemove: !!o.autoRemove },
  };
  const { Id } = JSON.parse(await ok(d, 'POST', '/v1.41/containers/create', body)) as { Id: string };
  const waited = api(d, 'POST', `/v1.41/containers/${Id}/wait?condition=${o.autoRemove ? 'removed' : 'next-exit'}`);
  await ok(d, 'POST', `/v1.41/containers/${Id}/start`);
  const w = await waited;
  assert.equal(JSON.parse(w.body).StatusCode, 0, w.body);
  if (!o.autoRemove) await ok(d, 'DELETE', `/v1.41/containers/${Id}?v=${o.volume ? 1 : 0}`);
}

/** What a data and exec root hold: entries (inodes) and the snapshot folders. */
function footprint(d: TestDaemon): { entries: number; snapshots: number } {
  const snaps = path.join(d.dataRoot, 'snapshots');
  return {
    entries: countEntries(d.dataRoot) + countEntries(d.execRoot),
    snapshots: fs.existsSync(snaps) ? fs.readdirSync(snaps).length : 0,
  };
}

/**
 * Frequent create/start/rm leaves nothing behind: no mount, overlay folder,
 * cgroup, runtime state, conmon, socket or file, and the data root holds as
 * many inodes as before.
 */
describe(`${CYCLES} create/start/rm cycles leave nothing behind`, () => {
  const d = suiteDaemon();

  for (const [name, o] of [
    ['run, then rm', {}],
    ['run --rm', { autoRemove: true }],
    ['run -v (anonymous volume), then rm -v', { volume: true }],
  ] as const) {
    test(name, async () => {
      // One cycle first: the folders a first container makes (runtime root, exits) are not a leak.
      await cycle(d, o);
      const before = footprint(d);
      for (let i = 0; i < CYCLES; i++) await cycle(d, o);
      assert.deepEqual(leaks(d), []);
      assert.deepEqual(JSON.parse(await ok(d, 'GET', '/v1.41/containers/json?all=1')), []);
      assert.equal(JSON.parse(await ok(d, 'GET', '/v1.41/volumes')).Volumes.length, 0);
      assert.deepEqual(footprint(d), before);
    });
  }

  test('10,000 short-lived children under --init leave no zombie', async () => {
    assert.equal(await zombiesAfterOrphans(d, 10_000, true), 0);
    assert.deepEqual(leaks(d), []);
  });
});
