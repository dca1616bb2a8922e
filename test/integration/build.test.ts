import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { BERTH, DOCKER, eventually, exec, suiteDaemon, type TestDaemon } from './harness';

/** A context folder with these files (a trailing `/` makes a folder). */
function context(d: TestDaemon, name: string, files: Record<string, string>): string {
  const dir = path.join(d.dir, 'contexts', name);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [f, text] of Object.entries(files)) {
    const p = path.join(dir, f);
    if (f.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text);
    }
  }
  return dir;
}

/** Builds; returns the output and, per step, whether the cache served it. */
async function build(d: TestDaemon, dir: string, args: string[] = []): Promise<{ out: string; cached: boolean[]; id: string }> {
  const out = await d.ok(['build', '--progress', 'plain', ...args, dir]);
  const steps = out.split(/^Step \d+\/\d+ : /m).slice(1);
  const cached = steps.filter((s) => !s.startsWith('FROM')).map((s) => s.includes(' ---> Using cache'));
  const id = /^Successfully built ([0-9a-f]{12})/m.exec(out)?.[1] ?? '';
  return { out, cached, id };
}

/** Folders of builds in progress (the kept contexts aside). */
const buildFolders = (d: TestDaemon) => (fs.existsSync(path.join(d.dataRoot, 'builds')) ? fs.readdirSync(path.join(d.dataRoot, 'builds')).filter((n) => n !== 'contexts') : []);
const config = async (d: TestDaemon, ref: string) => JSON.parse(await d.ok(['image', 'inspect', '-f', '{{json .Config}}', ref]));
const layers = async (d: TestDaemon, ref: string) => (JSON.parse(await d.ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref])) as string[]).length;
const run = (d: TestDaemon, ref: string, script: string) => d.ok(['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]);

describe('build: Dockerfiles as docker\'s classic builder', { timeout: 900_000 }, () => {
  const d = suiteDaemon();

  test('every instruction sets what docker sets', async () => {
    const tarDir = context(d, 'tarsrc', { 'inner/a.txt': 'from the archive\n' });
    const dir = context(d, 'all', {
      'Dockerfile': [
        '# escape=\\',
        'ARG BASE=busybox',
        'FROM ${BASE} AS base',
        'ONBUILD RUN echo triggered > /onbuild.txt',
        'FROM base',
        'ARG WHO=world',
        'ENV GREETING="hello $WHO" PLAIN=x\\ y',
        'LABEL org.example.name="all in one" version=1',
        'SHELL ["/bin/sh", "-e", "-c"]',
        'WORKDIR /srv',
        'WORKDIR app',
        'RUN echo "$GREETING from $(pwd)" > greeting.txt',
        'RUN ["sh", "-c", "echo exec form > /srv/app/exec.txt"]',
        'COPY --chown=1:2 --chmod=640 files/ /dst/',
        'COPY files/one.txt rename.txt',
        'COPY files/*.txt /glob/',
        'ADD archive.tar /unpacked/',
        'ADD plain.txt /added.txt',
        'USER nobody',
        'EXPOSE 80 53/udp',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=5s --retries=2 CMD true',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["cat /srv/app/greeting.txt"]',
        'MAINTAINER someone',
      ].join('\n'),
      'files/one.txt': 'one\n',
      'files/two.txt': 'two\n',
      'files/sub/three.md': 'three\n',
      'plain.txt': 'plain\n',
    });
    await exec('tar', ['-cf', path.join(dir, 'archive.tar'), '-C', tarDir, 'inner']);
    const { out } = await build(d, dir, ['-t', 'all:1']);
    assert.match(out, /# Executing 1 build trigger/);
    const c = await config(d, 'all:1');
    assert.ok(c.Env.includes('GREETING=hello world') && c.Env.includes('PLAIN=x y'), c.Env.join(','));
    assert.deepEqual(c.Labels, { 'org.example.name': 'all in one', version: '1' });
    assert.deepEqual(c.Shell, ['/bin/sh', '-e', '-c']);
    assert.equal(c.WorkingDir, '/srv/app');
    assert.equal(c.User, 'nobody');
    assert.deepEqual(Object.keys(c.ExposedPorts).sort(), ['53/udp', '80/tcp']);
    assert.deepEqual(c.Volumes, { '/data': {} });
    assert.equal(c.StopSignal, 'SIGQUIT');
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 });
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(c.Cmd, ['cat /srv/app/greeting.txt']);
    assert.equal(c.OnBuild, null, 'triggers are not passed on');
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Author}}', 'all:1']), 'someone');
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'all:1']), 'hello world from /srv/app');
    // As root: --chmod=640 applies to the copied folders too (as BuildKit's), so nobody cannot enter them.
    const files = await d.ok(['run', '--rm', '--network', 'none', '-u', '0', '--entrypoint', 'sh', 'all:1', '-c',
      'cat /onbuild.txt /srv/app/exec.txt /srv/app/rename.txt; stat -c "%u:%g %a %n" /dst/one.txt /dst/sub/three.md /dst/sub; ls /glob; cat /unpacked/inner/a.txt /added.txt']);
    assert.equal(files, ['triggered', 'exec form', 'one', '1:2 640 /dst/one.txt', '1:2 640 /dst/sub/three.md', '1:2 640 /dst/sub', 'one.txt', 'two.txt', 'from the archive', 'plain'].join('\n'));
    // Metadata steps make no layer: busybox's one, the trigger's RUN, the two WORKDIRs (made), 2 RUN, 3 COPY, 2 ADD.
    assert.equal(await layers(d, 'all:1'), 1 + 1 + 2 + 2 + 3 + 2);
    const history = (await d.ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'all:1'])).split('\n');
    assert.ok(history.includes('/bin/sh -c #(nop)  USER nobody') && history.some((h) => h.startsWith('|1 WHO=world /bin/sh -e -c echo')), history.join('\n'));
  });

  test('ARG scoping: meta ARGs only in FROM unless declared again; build args override defaults; ENV wins', async () => {
    const dir = context(d, 'args', {
      'Dockerfile': [
        'ARG TAG=latest',
        'ARG GLOBAL=g',
        'FROM busybox:${TAG} AS first',
        'RUN echo "global=[$GLOBAL]" > /a',
        'ARG GLOBAL',
        'ARG LOCAL=dflt',
        'ENV SHADOW=env',
        'ARG SHADOW=arg',
        'RUN echo "global=[$GLOBAL] local=[$LOCAL] shadow=[$SHADOW]" >> /a',
        'FROM busybox',
        'RUN echo "next=[$LOCAL]" > /b',
      ].join('\n'),
    });
    const r = await build(d, dir, ['-t', 'args:1', '--build-arg', 'LOCAL=given', '--build-arg', 'UNUSED=1']);
    assert.match(r.out, /\[Warning\] One or more build-args \[LOCAL UNUSED\] were not consumed/, 'the stage that uses LOCAL is not built for this target');
    assert.equal(await run(d, 'args:1', 'cat /b'), 'next=[]', 'an ARG does not cross into the next stage');
    await build(d, dir, ['-t', 'args:first', '--target', 'first', '--build-arg', 'LOCAL=given']);
    assert.equal(await run(d, 'args:first', 'cat /a'), 'global=[]\nglobal=[g] local=[given] shadow=[env]');
    const bad = await d.berth(['build', '--target', 'nope', dir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /failed to reach build target nope/);
  });

  test('the cache: hits exactly when docker\'s would, and misses whenever an input changed', async () => {
    const dir = context(d, 'cache', {
      'Dockerfile': ['FROM busybox', 'ARG V=1', 'COPY a.txt /a.txt', 'RUN cat /a.txt > /copy.txt', 'COPY src/ /src/', 'RUN echo $V > /v.txt', 'ENV E=1', 'RUN ls /src > /list.txt'].join('\n'),
      'a.txt': 'a\n',
      'src/main.c': 'int main() {}\n',
      'src/util.c': 'int util;\n',
      'src/notes.tmp': 'ignored\n',
      'src/keep.tmp': 'kept\n',
      '.dockerignore': 'src/*.tmp\n!src/keep.tmp\n',
    });
    const first = await build(d, dir, ['-t', 'cache:1']);
    assert.deepEqual(first.cached, [false, false, false, false, false, false, false]);
    assert.equal(await run(d, 'cache:1', 'cat /list.txt'), 'keep.tmp\nmain.c\nutil.c', '.dockerignore with a ! exception');

    const same = await build(d, dir, ['-t', 'cache:1']);
    assert.deepEqual(same.cached, [true, true, true, true, true, true, true], 'nothing changed: nothing runs');
    assert.equal(same.id, first.id, 'and the image is the same');

    fs.utimesSync(path.join(dir, 'src/main.c'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    fs.writeFileSync(path.join(dir, 'src/notes.tmp'), 'changed but ignored\n');
    assert.deepEqual((await build(d, dir)).cached, [true, true, true, true, true, true, true], 'times and ignored files are not inputs');

    fs.writeFileSync(path.join(dir, 'src/util.c'), 'int util = 2;\n');
    assert.deepEqual((await build(d, dir)).cached, [true, true, true, false, false, false, false], 'a changed file re-runs from the first COPY that sees it');

    fs.chmodSync(path.join(dir, 'src/util.c'), 0o755);
    assert.deepEqual((await build(d, dir)).cached, [true, true, true, false, false, false, false], 'a mode is an input');

    assert.deepEqual((await build(d, dir, ['--build-arg', 'V=2'])).cached, [false, false, false, false, false, false, false], 'an ARG value changes every step after the ARG');

    fs.writeFileSync(path.join(dir, 'Dockerfile'), fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8').replace('ENV E=1', 'ENV E=2'));
    assert.deepEqual((await build(d, dir)).cached, [true, true, true, true, true, false, false], 'a changed instruction re-runs from itself');

    assert.deepEqual((await build(d, dir, ['--no-cache'])).cached, [false, false, false, false, false, false, false]);
  });

  test('a context sent again is what was sent: same-size edits, removals and new files all seen', async () => {
    const dir = context(d, 'mirror', { 'Dockerfile': 'FROM busybox\nCOPY . /ctx/\n', 'a.txt': 'aaaa', 'b.txt': 'b', 'sub/c.txt': 'c' });
    await build(d, dir, ['-t', 'mirror:1']);
    assert.equal(await run(d, 'mirror:1', 'cd /ctx && find . -type f | sort | xargs cat'), 'FROM busybox\nCOPY . /ctx/\naaaab' + 'c');
    fs.writeFileSync(path.join(dir, 'a.txt'), 'AAAA');
    fs.rmSync(path.join(dir, 'b.txt'));
    fs.rmSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'new.txt'), 'n');
    const again = await build(d, dir, ['-t', 'mirror:1']);
    assert.deepEqual(again.cached, [false]);
    assert.equal(await run(d, 'mirror:1', 'cd /ctx && find . | sort | tr "\\n" " "; cat a.txt'), '. ./Dockerfile ./a.txt ./new.txt AAAA');
  });

  test('multi-stage: stages the target does not need are skipped, independent ones build in parallel', async () => {
    const dir = context(d, 'stages', {
      'Dockerfile': [
        'FROM busybox AS left',
        'RUN cut -d" " -f1 /proc/uptime > /start; sleep 2; cut -d" " -f1 /proc/uptime > /end',
        'FROM busybox AS right',
        'RUN cut -d" " -f1 /proc/uptime > /start; sleep 2; cut -d" " -f1 /proc/uptime > /end',
        'FROM busybox AS broken',
        'RUN exit 1',
        'FROM busybox',
        'COPY --from=left /start /left.start',
        'COPY --from=left /end /left.end',
        'COPY --from=1 /start /right.start',
        'COPY --from=right /end /right.end',
      ].join('\n'),
    });
    const r = await build(d, dir, ['-t', 'stages:1']);
    assert.doesNotMatch(r.out, /exit 1/, 'the broken stage is not built');
    const [ls, le, rs, re] = (await run(d, 'stages:1', 'cat /left.start /left.end /right.start /right.end')).split('\n').map(Number);
    assert.ok(ls < re && rs < le, `the two stages ran at the same time: left ${ls}-${le}, right ${rs}-${re}`);
    assert.ok(r.out.indexOf('FROM busybox AS left') < r.out.indexOf('FROM busybox AS right'), 'output comes in file order');
    await d.ok(['build', '--target', 'left', '-t', 'stages:left', dir]);
    assert.equal(await run(d, 'stages:left', 'test -e /end && echo yes'), 'yes');
  });

  test('--squash merges the final stage\'s layers into one; -f - reads the Dockerfile from stdin', async () => {
    const dir = context(d, 'squash', { 'keep.txt': 'kept\n' });
    const dockerfile = 'FROM busybox\nRUN echo a > /a && mkdir -p /d && echo x > /d/x\nRUN rm /bin/vi && echo b > /b\nRUN rm /a && rm -r /d && mkdir /d && echo y > /d/y\nCOPY . /ctx/\n';
    const r = await d.berth(['build', '--squash', '-f', '-', '-t', 'squashed:1', dir], { input: dockerfile });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Squashing 4 layers/);
    assert.equal(await layers(d, 'squashed:1'), 2, "busybox's layer and one more");
    assert.equal(await run(d, 'squashed:1', 'test -e /a || echo no-a; test -e /bin/vi || echo no-vi; cat /b; ls /d; ls -A /ctx'), 'no-a\nno-vi\nb\ny\nkeep.txt', 'deletions and replaced folders survive the merge; the stdin Dockerfile is not in the context');
    const history = (await d.ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'squashed:1'])).split('\n');
    assert.ok(history.some((h) => h.includes('rm /bin/vi')) && history[0].includes('layers merged'), history.join('\n'));
  });

  test('-f with a Dockerfile outside the context: berth and the docker CLI send it along, and it stays out of the image', async () => {
    const dir = context(d, 'outside-ctx', { 'in.txt': 'in\n' });
    const df = path.join(d.dir, 'elsewhere', 'Build.file');
    fs.mkdirSync(path.dirname(df), { recursive: true });
    fs.writeFileSync(df, 'FROM busybox\nCOPY . /ctx/\n');
    for (const [who, r] of [
      ['berth', await d.berth(['build', '-q', '-f', df, '-t', 'outside:1', dir])],
      ['docker', await exec(DOCKER, ['-H', d.host, 'build', '-q', '-f', df, '-t', 'outside:2', dir], { env: { DOCKER_BUILDKIT: '0' } })],
    ] as const) assert.equal(r.code, 0, `${who}: ${r.stderr}`);
    for (const tag of ['outside:1', 'outside:2']) assert.equal(await run(d, tag, 'ls -A /ctx'), 'in.txt', tag);
    const missing = await d.berth(['build', '-f', path.join(d.dir, 'nowhere'), dir]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /the Dockerfile .*nowhere.* cannot be read/);
  });

  test('--add-host (the API\'s extrahosts) reaches every RUN step\'s /etc/hosts, from berth and from the docker CLI', async () => {
    const dir = context(d, 'add-host', { Dockerfile: 'FROM busybox\nRUN grep -E "10\\.9\\.9\\.9\\s+db" /etc/hosts > /db-line\nRUN grep -c cache /etc/hosts > /n\n' });
    assert.equal((await d.berth(['build', '-q', '--no-cache', '--add-host', 'db:10.9.9.9', '--add-host', 'cache:10.9.9.8', '-t', 'hosts:1', dir])).code, 0);
    assert.equal(await run(d, 'hosts:1', 'cat /db-line /n'), '10.9.9.9\tdb\n1');
    const r = await exec(DOCKER, ['-H', d.host, 'build', '-q', '--no-cache', '--add-host', 'db:10.9.9.9', '--add-host', 'cache:10.9.9.8', '-t', 'hosts:2', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await run(d, 'hosts:2', 'cat /db-line'), '10.9.9.9\tdb');
    // Without it, the step fails as it would under docker: the name is not there.
    assert.notEqual((await d.berth(['build', '-q', '--no-cache', dir])).code, 0);
  });

  test('a client that hangs up cancels its build: the RUN is killed, nothing is left', async () => {
    const dir = context(d, 'cancel', { 'Dockerfile': 'FROM busybox\nRUN echo started; sleep 60\nRUN echo never\n' });
    const child = spawn(path.join(__dirname, '..', '..', '..', 'bin', 'berth'), ['-H', d.host, 'build', '--progress', 'plain', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    await eventually(() => out.includes('started'), 30_000);
    child.kill('SIGKILL');
    await eventually(async () => (await d.ok(['ps', '-aq'])) === '', 30_000);
    await eventually(() => buildFolders(d).length === 0, 30_000);
    assert.doesNotMatch(out, /never/);
  });

  test('ADD fetches a URL (here from loopback) and names the file after it', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/files/fetched.txt') res.end('fetched\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const dir = context(d, 'url', { 'Dockerfile': `FROM busybox\nADD http://127.0.0.1:${port}/files/fetched.txt /web/\nADD a.tar.xz b.tar.bz2 /unpacked/\n`, 'src/a/one.txt': 'xz\n', 'src/b/two.txt': 'bz2\n' });
      await exec('tar', ['-cJf', path.join(dir, 'a.tar.xz'), '-C', path.join(dir, 'src'), 'a']);
      await exec('tar', ['-cjf', path.join(dir, 'b.tar.bz2'), '-C', path.join(dir, 'src'), 'b']);
      await build(d, dir, ['-t', 'url:1']);
      assert.equal(await run(d, 'url:1', 'cat /web/fetched.txt; stat -c %a /web/fetched.txt; cat /unpacked/a/one.txt /unpacked/b/two.txt'), 'fetched\n600\nxz\nbz2', 'xz and bzip2 archives are unpacked too');
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nADD http://127.0.0.1:${port}/missing /x\n`);
      const bad = await d.berth(['build', dir]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /Dockerfile:2: ADD http:.*\/missing \/x: cannot download .*404/);
    } finally {
      server.close();
    }
  });

  test('bad input: the error names file, line and instruction; only the steps that succeeded stay, as cache', async () => {
    const images = async () => (await d.ok(['images', '-a', '-q'])).split('\n').filter(Boolean).length;
    const before = await images();
    const cases: [string, RegExp][] = [
      ['FROM busybox\nBOGUS x\n', /Dockerfile:2: BOGUS x: unknown instruction: BOGUS/],
      ['FROM busybox\nCOPY missing.txt /x\n', /Dockerfile:2: COPY missing.txt \/x: file not found in build context/],
      ['FROM busybox\nENV A="unterminated\n', /Dockerfile:2: .*matching double-quote/],
      // A missing image is pulled, from a registry that cannot be reached here (port 9, on loopback).
      ['FROM 127.0.0.1:9/no-such-image:1\n', /Dockerfile:1: FROM 127\.0\.0\.1:9\/no-such-image:1: registry 127\.0\.0\.1:9 cannot be reached/],
      ['FROM busybox\nCOPY --from=127.0.0.1:9/nostage /x /y\n', /Dockerfile:2: COPY --from=127\.0\.0\.1:9\/nostage .*cannot be reached/],
      ['FROM busybox\nCOPY --parents a.txt /x/\n', /--parents is not supported: it belongs to a newer Dockerfile syntax/],
      ['FROM busybox\nRUN --mount=type=secret,id=nope,required true\n', /secret nope: not found \(give it with build --secret id=nope,src=FILE\)/],
      ['FROM busybox\nRUN --mount=type=bind,source=missing,target=/m true\n', /Dockerfile:2: RUN --mount=type=bind,source=missing,target=\/m true: file not found in build context/],
      ['FROM busybox\nRUN --mount=type=ssh true\n', /type=ssh is not supported/],
      ['FROM busybox\nRUN --security=insecure true\n', /security\.insecure entitlement/],
      ['FROM busybox\nCOPY a.txt b.txt /not-a-dir\n', /must be a directory and end with a \//],
    ];
    for (const [text, re] of cases) {
      const dir = context(d, 'bad', { 'Dockerfile': text, 'a.txt': 'a', 'b.txt': 'b' });
      const r = await d.berth(['build', dir]);
      assert.notEqual(r.code, 0, text);
      assert.match(r.stderr, re);
    }
    assert.equal(await images(), before, 'nothing was made by builds that failed before any step');

    const dir = context(d, 'fails', { 'Dockerfile': 'FROM busybox\nRUN echo step one > /one\nRUN echo failing; exit 3\n' });
    const r = await d.berth(['build', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Dockerfile:3: RUN echo failing; exit 3: The command '\/bin\/sh -c echo failing; exit 3' returned a non-zero code: 3/);
    assert.equal(await d.ok(['ps', '-aq']), '', 'no step container is left');
    assert.equal(await images(), before + 1, 'the step that succeeded stays as cache');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo step one > /one\nRUN true\n');
    assert.deepEqual((await build(d, dir, ['-t', 'fixed:1'])).cached, [true, false]);
    await d.ok(['rmi', 'fixed:1']);
    assert.equal(await images(), before, 'rmi takes the intermediate images with it');
    assert.deepEqual(buildFolders(d), [], 'no build folder is left (contexts are kept for the next build)');
  });

  test("BuildKit's Dockerfile features: # syntax, platform args, heredocs, COPY --link, RUN --mount of every type, RUN --network", async () => {
    const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
    const secret = path.join(d.dir, 'token.txt');
    fs.writeFileSync(secret, 's3cret-value-41');
    const dir = context(d, 'buildkit', {
      'Dockerfile': [
        '# syntax=docker/dockerfile:1.4',
        'ARG TARGETARCH',
        'FROM --platform=$BUILDPLATFORM busybox AS base',
        'ARG TARGETARCH',
        'ARG TARGETPLATFORM',
        'RUN echo "$TARGETARCH $TARGETPLATFORM" > /arch',
        'RUN <<EOF',
        'echo one > /one',
        'echo two >> /one',
        'EOF',
        'RUN <<EOT sh',
        'echo "fed to sh" > /piped',
        'EOT',
        "RUN <<'EOF'",
        '#!/bin/sh',
        'echo "run as $0" > /script',
        'EOF',
        'ENV NAME=world',
        'COPY <<greeting.txt <<-"raw.txt" /docs/',
        'hello $NAME "quoted"',
        'greeting.txt',
        '\traw $NAME',
        '\traw.txt',
        'COPY --link <<EOF /linked',
        'linked',
        'EOF',
        'FROM busybox',
        'RUN --mount=type=cache,target=/var/cache/thing,id=thing echo run >> /var/cache/thing/runs && wc -l < /var/cache/thing/runs > /runs',
        'RUN --mount=type=bind,source=ctx.txt,target=/mnt/ctx.txt cp /mnt/ctx.txt /from-ctx',
        'RUN --mount=type=bind,target=/ctx,rw touch /ctx/written && ls /ctx > /ctx-listing',
        'RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && cp /scratch/x /tmpfs-ok',
        'RUN --mount=type=secret,id=tok,required cat /run/secrets/tok | wc -c > /secret-len && stat -c %a /run/secrets/tok >> /secret-len',
        'RUN --mount=type=secret,id=tok,env=TOKEN echo ${#TOKEN} > /env-len',
        'RUN --mount=from=base,source=/one,target=/o cp /o /copied-one',
        'RUN --network=none ! ip link show eth0 2>/dev/null && echo isolated > /net',
        'RUN ip link show eth0 >/dev/null && echo bridged > /net-default',
        'COPY --from=base /arch /one /piped /script /linked /base/',
        'COPY --from=base /docs /base/docs/',
      ].join('\n'),
      'ctx.txt': 'from the context\n',
    });
    const { out } = await build(d, dir, ['-t', 'buildkit:1', '--secret', `id=tok,src=${secret}`, '--platform', `linux/${arch}`]);
    assert.doesNotMatch(out, /s3cret/, 'the secret is not in the output');
    const files = await run(d, 'buildkit:1', 'cd /base && for f in arch one piped script linked docs/greeting.txt docs/raw.txt /runs /from-ctx /ctx-listing /tmpfs-ok /secret-len /env-len /copied-one /net /net-default; do echo "$f: $(cat $f | tr "\\n" " ")"; done');
    assert.equal(files, [
      `arch: ${arch} linux/${arch} `,
      'one: one two ',
      'piped: fed to sh ',
      'script: run as /dev/pipes/EOF ',
      'linked: linked ',
      'docs/greeting.txt: hello world "quoted" ',
      'docs/raw.txt: raw $NAME ',
      '/runs: 1 ',
      '/from-ctx: from the context ',
      '/ctx-listing: Dockerfile ctx.txt written ',
      '/tmpfs-ok: x ',
      '/secret-len: 15 400 ',
      '/env-len: 15 ',
      '/copied-one: one two ',
      '/net: isolated ',
      '/net-default: bridged',
    ].join('\n'));
    // Mount points are not the steps' work, and nothing of the secret is in the image or its history.
    assert.equal(await run(d, 'buildkit:1', 'ls -d /var/cache/thing /mnt /ctx /scratch /run/secrets /o /dev/pipes 2>&1 | grep -vc "No such file"; true'), '0');
    assert.equal(fs.existsSync(path.join(dir, 'written')), false, 'a rw bind of the context writes nowhere');
    const saved = await exec('sh', ['-c', `${BERTH} -H ${d.host} save buildkit:1 | grep -ac s3cret || true`]);
    assert.equal(saved.stdout.trim(), '0', 'the secret is in no layer');
    assert.doesNotMatch(await d.ok(['history', '--no-trunc', 'buildkit:1']), /s3cret/);
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'buildkit:1']), `linux/${arch}`);

    // Again: every step from the cache, a required secret not needed then; with --no-cache the cache mount has kept its runs.
    assert.ok((await build(d, dir, ['-t', 'buildkit:1'])).cached.every(Boolean), 'a build without changes is all cache');
    await build(d, dir, ['-t', 'buildkit:1', '--no-cache', '--secret', `id=tok,src=${secret}`]);
    assert.equal(await run(d, 'buildkit:1', 'cat /runs'), '2', 'the cache mount outlives the build');
    fs.writeFileSync(path.join(dir, 'ctx.txt'), 'changed\n');
    const again = await build(d, dir, ['-t', 'buildkit:1', '--secret', `id=tok,src=${secret}`]);
    assert.match(again.out, /Step \d+\/\d+ : RUN --mount=type=bind,source=ctx.txt[^]*?Running in/, 'a bound file that changed is a cache miss');

    // builder prune takes the cache mounts and the kept contexts (berth's CLI and docker's).
    const pruned = await d.ok(['builder', 'prune', '-f']);
    assert.match(pruned, /Deleted build cache objects:\ncache-mount:[0-9a-f]{16}\n(context:[0-9a-f]{16}\n)+/);
    assert.match(pruned, /Total reclaimed space: \d/);
    await build(d, dir, ['-t', 'buildkit:1', '--no-cache', '--secret', `id=tok,src=${secret}`]);
    assert.equal(await run(d, 'buildkit:1', 'cat /runs'), '1', 'a pruned cache mount starts empty');
    const viaDocker = await d.docker(['builder', 'prune', '-f']);
    assert.equal(viaDocker.code, 0, viaDocker.stderr);
    assert.match(viaDocker.stdout, /Total reclaimed space: \d/);
    const filtered = await d.docker(['builder', 'prune', '-f', '--filter', 'until=24h']);
    assert.notEqual(filtered.code, 0);
    assert.match(filtered.stderr, /build prune: filters \(until\) are not supported/);

    // A platform other than the host's is refused before any work.
    const other = arch === 'amd64' ? 'linux/arm64' : 'linux/amd64';
    const r = await d.berth(['build', '--platform', other, dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`Berth builds for linux/${arch}[^ ]* only, not ${other}`));
    await d.ok(['rmi', 'buildkit:1']);
  });

  test('--cache-from: a loaded image serves as cache, as with docker; the local cache keeps serving too', async () => {
    const dir = context(d, 'cachefrom', { 'Dockerfile': 'FROM busybox\nRUN echo one > /one\nCOPY a.txt /\nENV X=1\nRUN echo two > /two\n', 'a.txt': 'a\n' });
    const first = await build(d, dir, ['-t', 'cf:1']);
    const tar = path.join(d.dir, 'cf.tar');
    await d.ok(['save', '-o', tar, 'cf:1']);
    await d.ok(['rmi', 'cf:1']);
    await d.ok(['load', '-i', tar]);
    assert.deepEqual((await build(d, dir)).cached, [false, false, false, false], 'a loaded image is no cache by itself');
    await d.ok(['image', 'prune', '-f']);
    const from = await build(d, dir, ['--cache-from', 'cf:1', '--cache-from', 'not-here:1', '-t', 'cf:2']);
    assert.deepEqual(from.cached, [true, true, true, true], from.out);
    assert.equal(from.id, first.id, 'the last step is the cache image itself');
    assert.match(from.out, /\[Warning\] --cache-from not-here:1: no such image here, skipped/);
    // Changing a step ends the match there; the steps before still come from the image.
    fs.writeFileSync(path.join(dir, 'a.txt'), 'b\n');
    assert.deepEqual((await build(d, dir, ['--cache-from', 'cf:1'])).cached, [true, false, false, false]);
    await d.ok(['rmi', 'cf:1', 'cf:2']);
    await d.ok(['image', 'prune', '-f']);
    fs.rmSync(tar);
  });

  test('image prune removes what failed and superseded builds left, and keeps the cache of tagged images', async () => {
    const dir = context(d, 'prune', { 'Dockerfile': 'FROM busybox\nRUN echo 1 > /x\nRUN false\n' });
    await d.berth(['build', dir]);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo kept > /x\n');
    await build(d, dir, ['-t', 'kept:1']);
    await d.ok(['image', 'prune', '-f']);
    const dangling = await d.ok(['images', '-q', '--filter', 'dangling=true']);
    assert.equal(dangling, '', 'no dangling image is left');
    assert.deepEqual((await build(d, dir)).cached, [true], "a tagged image's steps stay cached");
    assert.equal(await d.ok(['system', 'check']), 'No problems found.', 'no layer, blob, snapshot or context is left unaccounted for');
    await d.assertClean();
  });

  test("the docker CLI's classic builder and docker-compose build through Berth's API", async () => {
    const dir = context(d, 'docker', {
      'Dockerfile': 'FROM busybox\nARG MSG=none\nCOPY hello.txt /\nRUN echo "$MSG" >> /hello.txt\nCMD ["cat", "/hello.txt"]\n',
      'hello.txt': 'hello\n',
      'docker-compose.yml': 'version: "3"\nservices:\n  app:\n    build:\n      context: .\n      args:\n        MSG: from-compose\n    image: composed:1\n',
    });
    const r = await exec(DOCKER, ['-H', d.host, 'build', '-t', 'viadocker:1', '--build-arg', 'MSG=from-docker', dir], { env: { DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Successfully tagged viadocker:1/);
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'viadocker:1']), 'hello\nfrom-docker');
    // The classic builder's CLI sends the Dockerfile as it is: BuildKit's syntax works through it too.
    const heredoc = context(d, 'docker-heredoc', { 'Dockerfile': '# syntax=docker/dockerfile:1\nFROM busybox\nRUN --mount=type=tmpfs,target=/t <<EOF\necho made > /t/x\ncp /t/x /made\nEOF\n' });
    const h = await exec(DOCKER, ['-H', d.host, 'build', '-q', '-t', 'viadocker:heredoc', heredoc], { env: { DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' } });
    assert.equal(h.code, 0, h.stderr);
    assert.equal(await run(d, 'viadocker:heredoc', 'cat /made; ls /t 2>&1; true'), 'made\nls: /t: No such file or directory');
    const c = await exec('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), 'build'], { env: { DOCKER_HOST: d.host, COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' } });
    assert.equal(c.code, 0, c.stderr + c.stdout);
    assert.equal(await d.ok(['run', '--rm', '--network', 'none', 'composed:1']), 'hello\nfrom-compose');
  });
});
