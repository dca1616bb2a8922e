import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { api, exec, mountsUnder, sleep, suiteDaemon } from './harness';

/** Changes a container makes: a file added and hard-linked, one changed, one deleted, a folder replaced whole. */
const CHANGES = [
  'echo hi > /new.txt',
  'ln /new.txt /hard.txt',
  'echo extra >> /etc/passwd',
  'rm /bin/vi',
  'mkdir -p /etc/app && echo x > /etc/app/conf',
  'rm -rf /usr/sbin && mkdir /usr/sbin && echo only > /usr/sbin/only',
].join(' && ');

describe('containers to images and files: diff, commit, export, cp', () => {
  const d = suiteDaemon();
  const views = () => (fs.existsSync(path.join(d.execRoot, 'views')) ? fs.readdirSync(path.join(d.execRoot, 'views')) : []);

  test("diff reports additions, changes and deletions as docker does, and not the runtime's mount points", async () => {
    await d.ok(['run', '--name', 'changed', '--network', 'none', 'busybox', 'sh', '-c', CHANGES]);
    const lines = (await d.ok(['diff', 'changed'])).split('\n');
    for (const l of ['A /new.txt', 'A /hard.txt', 'C /etc', 'C /etc/passwd', 'A /etc/app', 'A /etc/app/conf', 'C /bin', 'D /bin/vi', 'C /usr/sbin', 'A /usr/sbin/only', 'D /usr/sbin/httpd']) {
      assert.ok(lines.includes(l), `${l} in:\n${lines.join('\n')}`);
    }
    assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), 'mount points of the runtime are not changes');
    // An untouched container has no changes.
    await d.ok(['run', '--name', 'untouched', 'busybox', 'true']);
    assert.equal(await d.ok(['diff', 'untouched']), '');
    await d.ok(['rm', 'untouched']);
  });

  test('commit makes an image of the changes on top of the parent layers, with --change, message and author', async () => {
    const id = await d.ok(['commit', '-m', 'my change', '-a', 'Ann <ann@example.com>', '-c', 'ENV FOO=bar', '-c', 'CMD ["cat", "/new.txt"]', 'changed', 'committed:v1']);
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'committed:v1']), 'hi');
    const inside = await d.ok(['run', '--rm', '--network', 'none', 'committed:v1', 'sh', '-c', 'test -e /bin/vi || echo no-vi; echo $FOO; ls /usr/sbin; stat -c %h /hard.txt; tail -1 /etc/passwd; cat /etc/app/conf']);
    assert.equal(inside, 'no-vi\nbar\nonly\n2\nextra\nx');
    const parent = JSON.parse(await d.ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'busybox'])) as string[];
    const layers = JSON.parse(await d.ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'committed:v1'])) as string[];
    assert.deepEqual(layers.slice(0, -1), parent, 'the parent layers are shared, one layer is added');
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Author}}', 'committed:v1']), 'Ann <ann@example.com>');
    assert.match(await d.ok(['history', '--format', '{{.Comment}}', 'committed:v1']), /^my change$/m);
    // The same changes commit to the same layer.
    await d.ok(['commit', 'changed', 'committed:v2']);
    const again = JSON.parse(await d.ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'committed:v2'])) as string[];
    assert.equal(again.at(-1), layers.at(-1));
  });

  test('a running container is committed paused and goes on running', async () => {
    await d.ok(['run', '-d', '--name', 'live', '--network', 'none', 'busybox', 'sh', '-c', 'echo state > /state; exec sleep 1000']);
    await d.ok(['exec', 'live', 'test', '-e', '/state']);
    await d.ok(['commit', 'live', 'live:snap']);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}}', 'live']), 'running');
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'live:snap', 'cat', '/state']), 'state');
  });

  test('a container that exits while it is being committed is committed all the same (paused only while it runs)', async () => {
    for (let i = 0; i < 8; i++) {
      const id = await d.ok(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', `echo ${i} > /mark; sleep 0.${i}`]);
      await sleep(i * 70);
      const r = await d.berth(['commit', id, `racer:${i}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await d.ok(['run', '--rm', '--network', 'none', `racer:${i}`, 'cat', '/mark']), String(i));
      await d.ok(['wait', id]);
      assert.equal(await d.ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', id]), 'exited false');
      await d.ok(['rm', id]);
      await d.ok(['rmi', `racer:${i}`]);
    }
  });

  test('export writes the whole root filesystem of a stopped or a running container', async () => {
    for (const name of ['changed', 'live']) {
      const out = path.join(d.dir, `${name}.tar`);
      await d.ok(['export', '-o', out, name]);
      const list = (await exec('tar', ['-tf', out])).stdout.split('\n');
      assert.ok(list.includes('bin/busybox'), 'the image layers are in');
      if (name === 'changed') {
        assert.ok(list.includes('new.txt') && list.includes('usr/sbin/only'));
        assert.ok(!list.includes('bin/vi') && !list.includes('usr/sbin/httpd'), 'deleted files are not');
      } else assert.ok(list.includes('state'));
      fs.rmSync(out);
    }
    assert.deepEqual(views(), [], 'the export mount is gone');
  });

  test('the docker CLI: diff, commit, export', async () => {
    assert.match((await d.docker(['diff', 'changed'])).stdout, /^D \/bin\/vi$/m);
    const c = await d.docker(['commit', '-c', 'LABEL via=docker', 'changed', 'viadocker:1']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Config.Labels.via}}', 'viadocker:1']), 'docker');
    const out = path.join(d.dir, 'viadocker.tar');
    assert.equal((await d.docker(['export', '-o', out, 'changed'])).code, 0);
    assert.match((await exec('tar', ['-tf', out])).stdout, /^new\.txt$/m);
  });

  test('docker cp: out of and into running and stopped containers, symlinks kept inside the container', async () => {
    const local = path.join(d.dir, 'cp');
    fs.mkdirSync(path.join(local, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(local, 'sub', 'f.txt'), 'local\n');
    await d.ok(['run', '-d', '--name', 'cp-run', '--network', 'none', '--hostname', 'cphost', '-v', 'cpvol:/vol', 'busybox', 'sleep', '1000']);
    await d.ok(['exec', 'cp-run', 'sh', '-c', 'mkdir /data && echo remote > /data/r.txt && ln -s r.txt /data/link && ln -s ../../../../../../tmp /esc']);
    const cp = async (...args: string[]) => {
      const r = await d.docker(['cp', ...args]);
      assert.equal(r.code, 0, `docker cp ${args.join(' ')}: ${r.stderr}`);
    };
    // Out: a file, then a folder with its link as a link.
    await cp('cp-run:/data/r.txt', path.join(d.dir, 'r.txt'));
    assert.equal(fs.readFileSync(path.join(d.dir, 'r.txt'), 'utf8'), 'remote\n');
    await cp('cp-run:/data', path.join(d.dir, 'data-out'));
    assert.equal(fs.readlinkSync(path.join(d.dir, 'data-out', 'link')), 'r.txt');
    // In: a folder into a running container, owned by root there.
    await cp(path.join(local, 'sub'), 'cp-run:/tmp/');
    assert.equal(await d.ok(['exec', 'cp-run', 'stat', '-c', '%u:%g %s', '/tmp/sub/f.txt']), '0:0 6');
    // A link that climbs out of the root stays in the container: /esc is the container's /tmp.
    const marker = `berth-cp-${process.pid}`;
    fs.writeFileSync(path.join(local, marker), 'm');
    await cp(path.join(local, marker), 'cp-run:/esc/');
    assert.equal(await d.ok(['exec', 'cp-run', 'cat', `/tmp/${marker}`]), 'm');
    assert.ok(!fs.existsSync(path.join('/tmp', marker)), 'nothing lands on the host');
    // A running container's files are those it sees: its volumes, its /etc/hostname.
    await cp(path.join(local, 'sub', 'f.txt'), 'cp-run:/vol/');
    assert.equal(await d.ok(['run', '--rm', '-v', 'cpvol:/v', 'busybox', 'cat', '/v/f.txt']), 'local');
    await cp('cp-run:/etc/hostname', path.join(d.dir, 'hostname'));
    assert.equal(fs.readFileSync(path.join(d.dir, 'hostname'), 'utf8'), 'cphost\n');
    // Into a stopped container: there at its start.
    await d.ok(['create', '--name', 'cp-stopped', '--network', 'none', 'busybox', 'cat', '/in/sub/f.txt', '/renamed']);
    await cp(`${local}/.`, 'cp-stopped:/in');
    await cp(path.join(local, 'sub', 'f.txt'), 'cp-stopped:/renamed');
    assert.equal((await d.berth(['start', '-a', 'cp-stopped'])).stdout, 'local\nlocal\n');
    const missing = await d.docker(['cp', 'cp-run:/nonexistent', path.join(d.dir, 'x')]);
    assert.notEqual(missing.code, 0);
    // What docker 20.10's CLI prints for a 404 of the archive's stat, against dockerd too.
    assert.match(missing.stderr, /No such container:path: cp-run:\/nonexistent/);
    await d.ok(['rm', '-f', 'cp-run', 'cp-stopped']);
    await d.ok(['volume', 'rm', 'cpvol']);
    assert.deepEqual(views(), [], 'the mounts of stopped containers are gone');
  });

  test("cp of a stopped container sees its volumes and binds, and once it ran its /etc files; one that never ran has docker's empty placeholders", async () => {
    const bind = fs.mkdtempSync(path.join(d.dir, 'bind-'));
    fs.writeFileSync(path.join(bind, 'b.txt'), 'from the bind\n');
    await d.ok(['create', '--name', 'cold', '--network', 'none', '--hostname', 'coldhost', '-v', 'coldvol:/vol', '-v', `${bind}:/bound`, 'busybox', 'sh', '-c', 'echo in-volume > /vol/v.txt']);
    const read = async (p: string) => {
      const r = await d.docker(['cp', `cold:${p}`, '-']);
      assert.equal(r.code, 0, `${p}: ${r.stderr}`);
      return (await exec('tar', ['-xO'], { input: r.stdout })).stdout;
    };
    // Never started: diff says nothing; the placeholders are there, empty.
    assert.equal(await d.ok(['diff', 'cold']), '');
    for (const f of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']) assert.equal(await read(f), '', f);
    assert.equal(await read('/bound/b.txt'), 'from the bind\n');
    // The mount points cp made are changes of the container, as dockerd's diff shows them.
    assert.deepEqual((await d.ok(['diff', 'cold'])).split('\n').sort(), ['A /bound', 'A /vol']);
    // Into a stopped container's bind: it lands in the bind.
    const local = path.join(d.dir, 'to-bind.txt');
    fs.writeFileSync(local, 'copied in\n');
    assert.equal((await d.docker(['cp', local, 'cold:/bound/'])).code, 0);
    assert.equal(fs.readFileSync(path.join(bind, 'to-bind.txt'), 'utf8'), 'copied in\n');
    await d.ok(['start', '-a', 'cold']);
    assert.equal(await read('/vol/v.txt'), 'in-volume\n');
    assert.equal(await read('/etc/hostname'), 'coldhost\n');
    assert.match(await read('/etc/hosts'), /coldhost/);
    await d.ok(['rm', '-v', 'cold']);
    await d.ok(['volume', 'rm', 'coldvol']);
    assert.deepEqual(mountsUnder(d.execRoot).filter((m) => m.includes('/views/')), [], 'no view left mounted');
  });

  test('berth cp: the same rules as docker cp for where things land', async () => {
    const local = path.join(d.dir, 'bcp');
    fs.mkdirSync(path.join(local, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(local, 'sub', 'f.txt'), 'local\n');
    await d.ok(['run', '-d', '--name', 'bcp', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir /data && echo remote > /data/r.txt && exec sleep 1000']);
    await d.ok(['exec', 'bcp', 'test', '-e', '/data/r.txt']);
    const out = path.join(d.dir, 'bcp-out');
    fs.mkdirSync(out);
    await d.ok(['cp', 'bcp:/data/r.txt', path.join(out, 'renamed.txt')]);
    await d.ok(['cp', 'bcp:/data', out]);
    await d.ok(['cp', 'bcp:/data/.', path.join(out, 'contents')]);
    assert.equal(fs.readFileSync(path.join(out, 'renamed.txt'), 'utf8'), 'remote\n');
    assert.deepEqual(fs.readdirSync(path.join(out, 'data')), ['r.txt']);
    assert.deepEqual(fs.readdirSync(path.join(out, 'contents')), ['r.txt']);
    await d.ok(['cp', path.join(local, 'sub'), 'bcp:/data']);
    await d.ok(['cp', path.join(local, 'sub', 'f.txt'), 'bcp:/data/g.txt']);
    await d.ok(['cp', `${local}/.`, 'bcp:/fresh']);
    assert.equal(await d.ok(['exec', 'bcp', 'cat', '/data/sub/f.txt', '/data/g.txt', '/fresh/sub/f.txt']), 'local\nlocal\nlocal');
    const noDir = await d.berth(['cp', path.join(local, 'sub'), 'bcp:/nowhere/']);
    assert.equal(noDir.code, 1);
    assert.match(noDir.stderr, /destination directory \/nowhere\/ does not exist/);
    assert.match((await d.berth(['cp', 'bcp:/a', 'bcp:/b'])).stderr, /copying between containers is not supported/);
    await d.ok(['rm', '-f', 'bcp']);
  });

  test('bad input: unknown containers and bad names get clear errors, and no image is made', async () => {
    const before = await d.ok(['images', '-q', '--no-trunc']);
    for (const args of [['diff', 'nosuch'], ['commit', 'nosuch'], ['export', '-o', path.join(d.dir, 'x.tar'), 'nosuch']]) {
      const r = await d.berth(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /No such container: nosuch/);
    }
    const bad = await d.berth(['commit', 'changed', 'Bad:Name']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid reference format/);
    assert.equal((await api(d, 'POST', '/commit')).status, 400);
    assert.equal(await d.ok(['images', '-q', '--no-trunc']), before);
    assert.ok(!fs.existsSync(path.join(d.dir, 'x.tar')));
  });

  test('nothing leaks', async () => {
    await d.ok(['rm', '-f', 'changed', 'live']);
    await d.assertClean();
  });
});
