/**
 * bench/build: image builds side by side, in one run on this machine —
 * Berth, docker's classic builder (docker.io, a private dockerd,
 * DOCKER_BUILDKIT=0) and buildah (`bud --layers`, a private storage root)
 * where installed — on the same 10-step Dockerfile: two stages, one RUN
 * compiling a small C program with gcc, a COPY of a 2,000-file tree.
 *
 *   bench/build [--reps N] [--only berth,docker,buildah]
 *
 * Every builder runs its RUN steps with `--network none` (each would
 * otherwise set up a bridge network per step, which none of these steps
 * needs): the table compares building, not networking.
 *
 * Rows: a cold build (--no-cache), a rebuild with nothing changed, a
 * rebuild after one file of the tree changed, and the final image's size.
 * The base image (Debian bookworm minbase with gcc and libc6-dev) is made
 * once by `berth image bootstrap` from Debian's mirror and loaded into the
 * others from `berth save`, so every builder starts from the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { benchFlags, cell, type Daemon, dockerServerVersion, has, must, run, startBerth, startDockerd, table, toolVersion } from './common';

const BASE = 'bench-gcc:1';
const TREE_FILES = 2000;
/** The RUN steps' network, the same for every builder. */
const NO_NETWORK = ['--network', 'none'];

const DOCKERFILE = [
  `FROM ${BASE} AS build`,
  'WORKDIR /src',
  'COPY hello.c .',
  'RUN gcc -O2 -o hello hello.c',
  `FROM ${BASE}`,
  'WORKDIR /app',
  'COPY tree/ ./tree/',
  'RUN find tree -type f | wc -l > /app/count',
  'COPY --from=build /src/hello /usr/local/bin/hello',
  'CMD ["hello"]',
].join('\n');

interface Builder {
  name: string;
  /** Builds the context; noCache for the cold build. */
  build(ctx: string, tag: string, noCache: boolean): Promise<number>;
  /** Writes the image as a docker-archive tar: its size is the image's, measured alike for all. */
  save(tag: string, file: string): Promise<unknown>;
  stop(): Promise<void>;
}

function makeContext(dir: string): void {
  fs.mkdirSync(path.join(dir, 'tree'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE + '\n');
  fs.writeFileSync(path.join(dir, 'hello.c'), '#include <stdio.h>\nint main(void) { puts("hello from a build"); return 0; }\n');
  for (let i = 0; i < TREE_FILES; i++) {
    const sub = path.join(dir, 'tree', `d${i % 40}`);
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 50)));
  }
}

async function timed(cmd: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const r = await must(cmd[0], cmd.slice(1), { env, quiet: true });
  return r.ms;
}

function berthBuilder(d: Daemon): Builder {
  const cli = d.cli;
  return {
    name: 'Berth',
    build: (ctx, tag, noCache) => timed([...cli, 'build', '-q', ...NO_NETWORK, ...(noCache ? ['--no-cache'] : []), '-t', tag, ctx]),
    save: (tag, file) => must(cli[0], [...cli.slice(1), 'save', '-o', file, tag]),
    stop: () => d.stop(),
  };
}

async function dockerBuilder(d: Daemon): Promise<Builder> {
  const cli = d.cli;
  const env = { DOCKER_BUILDKIT: '0' };
  return {
    name: `docker ${await dockerServerVersion(cli)} classic builder`,
    build: (ctx, tag, noCache) => timed([...cli, 'build', '-q', ...NO_NETWORK, ...(noCache ? ['--no-cache'] : []), '-t', tag, ctx], env),
    save: (tag, file) => must(cli[0], [...cli.slice(1), 'save', '-o', file, tag]),
    stop: () => d.stop(),
  };
}

async function buildahBuilder(dir: string, archive: string): Promise<Builder | undefined> {
  if (!has('buildah')) {
    console.error('bench: buildah is not installed; left out (apt-get install buildah adds its column)');
    return undefined;
  }
  const cli = ['buildah', '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'overlay'];
  const loaded = await run(cli[0], [...cli.slice(1), 'pull', '-q', `docker-archive:${archive}`]);
  if (loaded.code !== 0) {
    console.error(`bench: buildah could not load the base image; left out: ${loaded.stderr.trim()}`);
    return undefined;
  }
  await must(cli[0], [...cli.slice(1), 'tag', loaded.stdout.trim().split('\n').pop()!, BASE]);
  return {
    name: `buildah ${toolVersion('buildah')} (bud --layers)`,
    // crun, buildah's default here, refuses this host's hybrid cgroup layout: runc, as the others use.
    build: (ctx, tag, noCache) => timed([...cli, 'bud', '-q', '--layers', '--runtime', 'runc', ...NO_NETWORK, ...(noCache ? ['--no-cache'] : []), '-t', tag, ctx]),
    save: (tag, file) => must(cli[0], [...cli.slice(1), 'push', '-q', tag, `docker-archive:${file}:${tag}`]),
    stop: async () => {
      await run(cli[0], [...cli.slice(1), 'rmi', '-a', '-f']);
      await run('umount', ['-R', '-l', path.join(dir, 'root')]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A builder that fails is left out of the table, with why, rather than losing the others' rows. */
async function measureOrSay(b: Builder, ctx: string, reps: number): Promise<Record<string, number[]> | undefined> {
  try {
    return await measure(b, ctx, reps);
  } catch (e) {
    console.error(`bench: ${b.name} left out: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

async function measure(b: Builder, ctx: string, reps: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = { cold: [], same: [], one: [], size: [] };
  const tag = 'bench-app:1';
  for (let i = 0; i < reps; i++) out.cold.push(await b.build(ctx, tag, true));
  for (let i = 0; i < reps; i++) out.same.push(await b.build(ctx, tag, false));
  for (let i = 0; i < reps; i++) {
    fs.appendFileSync(path.join(ctx, 'tree', 'd7', 'f7.txt'), `change ${b.name} ${i}\n`);
    out.one.push(await b.build(ctx, tag, false));
  }
  const file = path.join(path.dirname(ctx), `saved-${out.cold.length}-${Date.now()}.tar`);
  await b.save(tag, file);
  out.size.push(fs.statSync(file).size);
  fs.rmSync(file);
  return out;
}

function parseArgs(argv: string[]): { reps: number; only?: Set<string> } {
  const o: { reps: number; only?: Set<string> } = { reps: 3 };
  benchFlags(argv, { reps: (v) => (o.reps = Number(v)), only: (v) => (o.only = new Set(v.split(','))) });
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench/build runs as root');
  const want = (k: string) => !o.only || o.only.has(k);
  const tmp = fs.mkdtempSync('/tmp/berth-bench-build-');
  try {
    await benchIn(tmp, o, want);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function benchIn(tmp: string, o: { reps: number }, want: (k: string) => boolean): Promise<void> {
  const tag = String(process.pid % 100000);
  const ctx = path.join(tmp, 'context');
  makeContext(ctx);
  const archive = path.join(tmp, 'base.tar');
  const tar = path.join(tmp, 'busybox.tar');
  await must(path.join(__dirname, '..', '..', 'scripts', 'busybox-rootfs'), [tar]);
  const rows: Record<string, Record<string, string>> = {};
  const cols: string[] = [];
  const R = { cold: 'cold build (--no-cache)', same: 'rebuild, nothing changed', one: 'rebuild, one file of the tree changed', size: 'final image size (docker-archive tar)' };
  const put = (b: Builder, r: Record<string, number[]> | undefined) => {
    if (!r) return;
    cols.push(b.name);
    for (const k of ['cold', 'same', 'one'] as const) (rows[R[k]] ??= {})[b.name] = cell(r[k].map((ms) => ms / 1000), 's', 2);
    (rows[R.size] ??= {})[b.name] = `${(r.size[0] / 1e6).toFixed(1)} MB`;
  };
  const berth = await startBerth(path.join(tmp, 'berth'), tag, tar, 'busybox:latest');
  try {
    console.error('bench: bootstrapping the base image (debootstrap, gcc) ...');
    await must(berth.cli[0], [...berth.cli.slice(1), 'image', 'bootstrap', '-q', '--suite', 'bookworm', '--include', 'gcc,libc6-dev', BASE]);
    await must(berth.cli[0], [...berth.cli.slice(1), 'save', '-o', archive, BASE]);
    if (want('berth')) {
      console.error('bench: Berth ...');
      const b = berthBuilder(berth);
      put(b, await measureOrSay(b, ctx, o.reps));
    }
  } finally {
    await berth.stop();
  }
  if (want('docker')) {
    const d = await startDockerd([], tar, 'busybox:latest');
    if (d) {
      const b = await dockerBuilder(d);
      try {
        console.error('bench: docker ...');
        await must(d.cli[0], [...d.cli.slice(1), 'load', '-i', archive], { quiet: true });
        put(b, await measureOrSay(b, ctx, o.reps));
      } finally {
        await b.stop();
      }
    }
  }
  if (want('buildah')) {
    const b = await buildahBuilder(path.join(tmp, 'buildah'), archive);
    if (b) {
      try {
        console.error('bench: buildah ...');
        put(b, await measureOrSay(b, ctx, o.reps));
      } finally {
        await b.stop();
      }
    }
  }
  console.log(table(cols, rows, `${o.reps} builds of each kind; median (min-max); each time includes the client sending the context; RUN steps with --network none in every builder.`));
}

main().catch((e) => {
  console.error(`bench/build: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
