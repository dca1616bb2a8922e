import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { exec, suiteDaemon } from './harness';

// The one test that leaves the machine: debootstrap and apt-get reach Debian's mirror, as the issue asks.
describe('image bootstrap: a Debian base image with debootstrap, and a build on it', () => {
  const d = suiteDaemon();

  // debootstrap, nginx and their copies in layers and snapshots take about 1 GiB; machines here have had as little as 287 MB free.
  const free = fs.statfsSync(os.tmpdir());
  const freeGiB = (free.bavail * free.bsize) / 2 ** 30;
  test('bootstrap debian:bookworm, then FROM it apt-get install nginx in a build', { timeout: 900_000, skip: freeGiB < 2 && `${freeGiB.toFixed(1)} GiB free in ${os.tmpdir()}; the bootstrap needs 2` }, async () => {
    const id = await d.ok(['image', 'bootstrap', '-q', 'debian:bookworm']);
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'debian:bookworm', 'sh', '-c', 'cut -d. -f1 /etc/debian_version; ls /var/lib/apt/lists | grep -v -e partial -e lock | wc -l']), '12\n0');
    // The host's name and resolvers are not in the image's layers.
    const saved = path.join(d.dir, 'debian.tar');
    await d.ok(['save', '-o', saved, 'debian:bookworm']);
    for (const layer of (await exec('tar', ['-tf', saved])).stdout.split('\n').filter((l) => l.endsWith('layer.tar'))) {
      // `tar -tv`: mode, owner, size, date, time, name; resolv.conf is kept empty, as in docker's debian images.
      const entries = (await exec('sh', ['-c', `tar -xOf '${saved}' '${layer}' | tar -tv`])).stdout.split('\n').map((l) => l.split(/\s+/));
      assert.ok(!entries.some((e) => /^(\.\/)?etc\/hostname$/.test(e[5] ?? '')), `${layer} holds the host's name`);
      for (const e of entries.filter((x) => /^(\.\/)?etc\/resolv\.conf$/.test(x[5] ?? ''))) assert.equal(e[2], '0', `${layer}: resolv.conf is not empty`);
    }
    fs.rmSync(saved);
    const dir = path.join(d.dir, 'nginx');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends nginx && rm -rf /var/lib/apt/lists/*\nCMD ["nginx", "-v"]\n');
    await d.ok(['build', '--network', 'host', '-t', 'nginx:test', dir]);
    const r = await d.berth(['run', '--rm', '--network', 'none', 'nginx:test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /nginx version: nginx\/1\./);
    // A bad name or suite is refused before any download.
    const bad = await d.berth(['image', 'bootstrap', '--suite', 'no such', 'x:1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid suite/);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'builds')).filter((n) => n !== 'contexts'), [], 'no bootstrap folder is left');
    await d.assertClean();
  });
});
