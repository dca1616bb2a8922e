import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { cgroupDirs, leaks, mountsUnder, suiteDaemon, type TestDaemon } from './harness';
import { cgroupV2 } from './host-offers';

const hex64 = () => randomBytes(32).toString('hex');
const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
};
/** A snapshot folder as the overlay snapshotter lays it out. */
function plantSnapshot(d: TestDaemon, name: string, kind: 'active' | 'committed'): void {
  const dir = path.join(d.dataRoot, 'snapshots', createHash('sha256').update(name).digest('hex').slice(0, 32));
  fs.mkdirSync(path.join(dir, 'fs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'work'));
  write(path.join(dir, 'info.json'), JSON.stringify({ name, kind, created: new Date().toISOString() }));
}

/** The kinds `system check` reports, one line per problem, and its exit code. */
async function check(d: TestDaemon, repair = false): Promise<{ code: number; kinds: string[]; out: string }> {
  const r = await d.berth(['system', 'check', ...(repair ? ['--repair'] : [])]);
  const kinds = r.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/)[0]);
  return { code: r.code, kinds: kinds.sort(), out: r.stdout + r.stderr };
}

describe('system check', () => {
  const d = suiteDaemon();

  test('a clean system has no problems', async () => {
    await d.ok(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '1000']);
    await d.ok(['create', '--name', 'idle', '-v', '/data', 'busybox']);
    const r = await d.berth(['system', 'check']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'No problems found.');
    await d.ok(['rm', '-f', '-v', 'busy', 'idle']);
  });

  test('orphans of every kind are reported, and --repair removes them all', async () => {
    const keep = await d.ok(['run', '-d', '--name', 'keeper', 'busybox', 'sleep', '1000']);
    const ghost = hex64();
    // Runtime traces of a container nobody knows: bundle, rootfs mount, cgroup.
    const bundle = path.join(d.execRoot, 'containers', ghost);
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(bundle, 'rootfs')]).status, 0);
    for (const c of cgroupV2 ? [''] : ['memory', 'pids']) fs.mkdirSync(path.join('/sys/fs/cgroup', c, d.cgroupParent, ghost), { recursive: true });
    // A mount nothing made, an exec session nobody knows.
    const stray = path.join(d.execRoot, 'stray');
    fs.mkdirSync(stray);
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', stray]).status, 0);
    fs.mkdirSync(path.join(d.execRoot, 'exec', hex64()), { recursive: true });
    // The view of an export or cp cut off by a crash.
    const view = path.join(d.execRoot, 'views', 'v-crashed');
    fs.mkdirSync(view, { recursive: true });
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', view]).status, 0);
    // Store debris: a container folder without record, snapshots and a blob nobody uses, an ingest.
    fs.mkdirSync(path.join(d.dataRoot, 'containers', hex64()));
    plantSnapshot(d, `extract-sha256:${hex64()}-1`, 'active');
    plantSnapshot(d, `sha256:${hex64()}`, 'committed');
    const blob = 'nobody references this';
    write(path.join(d.dataRoot, 'content', 'blobs', 'sha256', createHash('sha256').update(blob).digest('hex')), blob);
    fs.mkdirSync(path.join(d.dataRoot, 'content', 'ingest', 'abandoned'), { recursive: true });
    // An image whose manifest is gone, and a name pointing nowhere.
    const broken = hex64();
    write(path.join(d.dataRoot, 'images', `${broken}.json`), JSON.stringify({ id: `sha256:${broken}`, manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex64()}`, size: 1 }, created: new Date().toISOString(), size: 0 }));
    // A volume folder without description, a volume made for a create that never finished.
    fs.mkdirSync(path.join(d.dataRoot, 'volumes', 'ghostvol', '_data'), { recursive: true });
    write(path.join(d.dataRoot, 'volumes', 'pendvol', 'volume.json'), JSON.stringify({ Name: 'pendvol', Driver: 'local', Mountpoint: path.join(d.dataRoot, 'volumes', 'pendvol', '_data'), CreatedAt: new Date().toISOString(), Labels: {}, Options: {}, Scope: 'local', pendingFor: ghost }));
    // An atomic write that never finished, old enough not to be in progress.
    const tmp = path.join(d.dataRoot, 'containers', keep, 'container.json.0badc0de.tmp');
    write(tmp, '{');
    fs.utimesSync(tmp, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

    const found = await check(d);
    assert.equal(found.code, 1, found.out);
    for (const kind of ['bundle', 'cgroup', 'mount', 'exec-session', 'view', 'container-folder', 'snapshot', 'layer', 'blob', 'ingest', 'image', 'volume-folder', 'volume', 'temp-file']) {
      assert.ok(found.kinds.includes(kind), `${kind} not reported:\n${found.out}`);
    }
    assert.equal(found.kinds.filter((k) => k === 'mount').length, 2, found.out);
    // Reporting changes nothing.
    assert.equal(mountsUnder(stray).length, 1);

    const repaired = await check(d, true);
    assert.equal(repaired.code, 0, repaired.out);
    assert.deepEqual(repaired.kinds, found.kinds);
    assert.doesNotMatch(repaired.out, /not repaired/);
    assert.equal((await d.ok(['system', 'check'])), 'No problems found.');
    // The daemon's own lxcfs mount is no orphan.
    assert.deepEqual(mountsUnder(d.execRoot).filter((m) => !m.includes(keep) && m !== path.join(d.execRoot, 'lxcfs', 'mnt')), []);
    assert.deepEqual(cgroupDirs(path.join(d.cgroupParent, ghost)), []);
    assert.ok(!fs.existsSync(tmp) && !fs.existsSync(path.join(d.dataRoot, 'volumes', 'pendvol')) && !fs.existsSync(view));
    // What is in use stayed: the running container, its image, the volume list.
    assert.equal(await d.ok(['exec', 'keeper', 'echo', 'still here']), 'still here');
    assert.match(await d.ok(['images', '--format', '{{.Repository}}']), /^busybox$/m);
    await d.ok(['rm', '-f', 'keeper']);
  });

  test('a container removed behind the daemon leaves conmon and runtime traces; the next start frees them', async () => {
    const id = await d.ok(['run', '-d', 'busybox', 'sleep', '1000']);
    const pid = Number(await d.ok(['inspect', '-f', '{{.State.Pid}}', id]));
    await d.kill();
    fs.rmSync(path.join(d.dataRoot, 'containers', id), { recursive: true });
    await d.start();
    assert.equal(await d.ok(['system', 'check']), 'No problems found.');
    assert.ok(!fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z', 'the container process was not killed');
    assert.match(d.log, /repaired at start-up/);
    assert.deepEqual(leaks(d), []);
  });

  test('nothing leaks', () => d.assertClean());
});
