import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { api, countEntries, leaks, sleep, suiteDaemon, type TestDaemon } from './harness';

/** A request with a file as its body; resolves with the status and the body, or rejects when the daemon dies. */
function upload(d: TestDaemon, urlPath: string, file: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: urlPath, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    fs.createReadStream(file).pipe(req);
  });
}

/** A one-layer rootfs tar whose only file is unique, so its import writes a new blob and layer. */
function uniqueRootfs(dir: string, name: string): string {
  const src = path.join(dir, name);
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'stamp'), randomBytes(64 * 1024));
  const tar = path.join(dir, `${name}.tar`);
  assert.equal(spawnSync('tar', ['-cf', tar, '-C', src, '.']).status, 0);
  return tar;
}

const ROUNDS = 12;

describe('a daemon SIGKILLed in the middle of create, start, rm, load and import', () => {
  const d = suiteDaemon();

  test('comes back with no half object, nothing acknowledged lost, and nothing leaked', async () => {
    const work = fs.mkdtempSync(path.join(d.dir, 'crash-'));
    // Archives to load: images saved and then removed, so loading them writes blobs and layers again.
    const archives: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await d.ok(['import', uniqueRootfs(work, `seed${r}`), `seed${r}:latest`]);
      archives.push(path.join(work, `seed${r}.docker.tar`));
      await d.ok(['save', '-o', archives[r], `seed${r}:latest`]);
      await d.ok(['rmi', `seed${r}:latest`]);
    }
    const imports = Array.from({ length: ROUNDS }, (_, r) => uniqueRootfs(work, `imp${r}`));
    const baseline = countEntries(d.dataRoot);

    const acked = { created: new Set<string>(), started: new Set<string>(), removed: new Set<string>(), images: new Set<string>() };
    // An rm cut off by the kill may or may not have happened; one never asked for must not.
    const rmAsked = new Set<string>();
    let previous: string[] = [];
    // The kills spread over the operations' course; on a slow host, where none of a kind finishes in time, they spread wider.
    let step = 25;
    for (let r = 0; r < ROUNDS; r++) {
      const ops: Promise<unknown>[] = [];
      // The kill cuts requests off: failing is what they may do.
      const op = (p: Promise<unknown>) => ops.push(p.catch(() => {}));
      for (let i = 0; i < 3; i++) {
        op((async () => {
          const c = await api(d, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { Binds: i === 0 ? [`/data${r}`] : [] } });
          if (c.status !== 201) return;
          const id = (JSON.parse(c.body) as { Id: string }).Id;
          acked.created.add(id);
          if ((await api(d, 'POST', `/containers/${id}/start`)).status === 204) acked.started.add(id);
        })());
      }
      for (const id of previous) {
        rmAsked.add(id);
        op(api(d, 'DELETE', `/containers/${id}?force=1&v=1`).then((res) => res.status === 204 && acked.removed.add(id)));
      }
      op(upload(d, '/images/load', archives[r]).then((res) => res.status === 200 && /Loaded image/.test(res.body) && acked.images.add(`seed${r}:latest`)));
      op(upload(d, `/images/create?fromSrc=-&repo=imp${r}&tag=latest`, imports[r]).then((res) => res.status === 200 && /sha256:/.test(res.body) && acked.images.add(`imp${r}:latest`)));
      await sleep(r * step);
      await d.kill();
      await Promise.all(ops);
      await d.start();

      const check = await d.berth(['system', 'check']);
      assert.equal(check.stdout.trim(), 'No problems found.', `round ${r}: the start-up repair left problems\n${check.stdout}\n${d.log.slice(-4000)}`);
      const listed = (await d.ok(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
      for (const id of acked.created) if (!rmAsked.has(id)) assert.ok(listed.includes(id), `round ${r}: created ${id} is gone`);
      for (const id of acked.removed) assert.ok(!listed.includes(id), `round ${r}: removed ${id} is back`);
      for (const id of listed) {
        // Every container shown is whole: running ones answer exec, stopped ones start.
        const running = (await d.ok(['inspect', '-f', '{{.State.Running}}', id])) === 'true';
        if (acked.started.has(id)) assert.ok(running, `round ${r}: started ${id} is not running`);
        if (!running) await d.ok(['start', id]);
        assert.equal(await d.ok(['exec', id, 'echo', 'ok']), 'ok', `round ${r}: ${id}`);
      }
      const images = (await d.ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n');
      for (const ref of acked.images) assert.ok(images.includes(ref), `round ${r}: ${ref} was acknowledged and is gone`);
      previous = listed;
      if (!(acked.created.size && acked.removed.size && acked.images.size)) step = Math.round(step * 1.5);
    }

    const ids = (await d.ok(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
    if (ids.length) await d.ok(['rm', '-f', '-v', ...ids]);
    const extra = (await d.ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter((n) => n && n !== 'busybox:latest');
    if (extra.length) await d.ok(['rmi', ...extra]);
    const vols = (await d.ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean);
    if (vols.length) await d.ok(['volume', 'rm', ...vols]);
    assert.deepEqual(leaks(d), []);
    // No orphan blob, layer, folder or temp file: the data root holds what it held before the crashes.
    assert.equal(countEntries(d.dataRoot), baseline);
    const counts = Object.entries(acked).map(([k, v]) => `${k} ${v.size}`).join(', ');
    assert.ok(acked.created.size > 0 && acked.removed.size > 0 && acked.images.size > 0, `the kills came before operations of some kind finished (${counts}): the test proved nothing`);
    assert.match(d.log, /repaired at start-up/, 'no kill left anything to repair: the test proved nothing');
  });
});
