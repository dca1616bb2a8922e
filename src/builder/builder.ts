import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { BerthError, errorMessage, invalidArgument } from '../base/errors';
import { mkdirp, statIfExists } from '../base/files';
import { newId } from '../base/ids';
import { resolveIn } from '../base/in-root';
import { readUserDb, resolveUser } from '../base/users';
import { type Digest, digestHex, sha256 } from '../oci/digest';
import { type ContainerConfig, type Descriptor, type ImageConfig, hostPlatform } from '../oci/image';
import { familiarString, normalize, parseReference } from '../oci/reference';
import { createImage, decompressed } from '../images/importer';
import type { ImageRecord, ImageStore } from '../images/store';
import { applyLayer } from '../snapshots/apply';
import { packLayer } from '../snapshots/diff';
import type { BuildContext } from './context';
import { type Owner, type Source, archiveKind, copySources, findSources, makeDirs, sourcesDigest } from './copy';
import { type Dockerfile, type Instruction, type Stage, lineError, parseDockerfile, parseInstruction } from './dockerfile';
import { METADATA, applyMetadata, varsOf } from './metadata';
import { parseRunMount } from './run-mounts';
import { type MountSources, type StepMount, heredocText, mountsKey, runCommand, withMounts } from './run-step';
import { cacheSourceStep, type CacheSource } from './cache-from';
import { expandHeredoc, expandWord, expandWords, keyValues } from './words';

/** What a step changed in a root filesystem: an overlay upper folder, until released. */
export interface Changes {
  upper: string;
  /** Paths the runtime made that are not the step's (mount points of /etc/hosts, /proc...). */
  skip?: Set<string>;
  release(): Promise<void>;
}

export interface RunSpec {
  cmd: string[];
  env: string[];
  user: string;
  workdir: string;
  network: string;
  /** host:ip lines for the step's /etc/hosts (`--add-host`). */
  extraHosts: string[];
  /** RUN --mount's, resolved; the worker removes the mount points they made in the root filesystem. */
  mounts: StepMount[];
}

/** What the builder needs from the engine: containers for RUN, writable and read-only root filesystems. */
export interface BuildWorker {
  /** Runs a command in a container of the image, its output passed on as it comes. */
  run(image: Digest | undefined, spec: RunSpec, output: (data: Buffer) => void, signal?: AbortSignal): Promise<{ exitCode: number; changes: Changes }>;
  /** fn with a writable root filesystem of the image; its changes after. */
  change(image: Digest | undefined, fn: (root: string) => Promise<void>): Promise<Changes>;
  /** fn with a read-only root filesystem of the image. */
  read<T>(image: Digest | undefined, fn: (root: string) => Promise<T>): Promise<T>;
  /** Pulls an image from its registry, saying how it goes; returns its id. */
  pull(ref: string, say: (line: string) => void, signal?: AbortSignal): Promise<Digest>;
}

export interface BuildOptions {
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  labels?: Record<string, string>;
  /** RUN's network: the default bridge (as docker's classic builder), none, host or a user network. */
  network?: string;
  /** host:ip lines every RUN step's /etc/hosts gets (`--add-host`, the API's extrahosts). */
  extraHosts?: string[];
  /** The layers the final stage added, as one. */
  squash?: boolean;
  /** Aborted when the client hangs up: no step starts after, a running RUN is killed. */
  signal?: AbortSignal;
  /** Pull every base image named by FROM (or COPY --from), even when it is here (`--pull`). */
  pull?: boolean;
  /** Each step's time on its ` ---> id` line (Berth's CLI asks; docker's lines stay exact for tools that parse them). */
  timings?: boolean;
  /** Secrets by id, for RUN --mount=type=secret (`build --secret`); never written into an image. */
  secrets?: Record<string, Buffer>;
  /** Images whose history may serve as cache (`--cache-from`), as docker's classic builder uses them. */
  cacheFrom?: string[];
  /** `--platform`: only the host's is built. */
  platform?: string;
}

export type BuildMessage = { stream: string } | { aux: { ID: string } };

/** Build args every Dockerfile may use without ARG; never part of history or the cache. */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

interface State {
  /** The stage it belongs to: its messages wait for the stages before it. */
  stage: number;
  image?: Digest;
  config: ImageConfig;
  layers: Descriptor[];
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  /** The stage's FROM image and its layer count: what --squash keeps apart. */
  base: { image?: Digest; layers: number };
}

interface Step {
  createdBy: string;
  config: ContainerConfig;
  /** What else the cache keys on (sources, flags). */
  key?: unknown;
  author?: string;
}

class Cancelled extends Error {}

/** Output a later stage may hold back while the stages before it speak. */
const HELD_OUTPUT_BOUND = 4 << 20;

const short = (id: Digest) => digestHex(id).slice(0, 12);
const seconds = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(2)}s`;

/**
 * Builds an image from a Dockerfile as docker's classic builder does: each
 * step makes an image from the one before (metadata steps without a layer),
 * and a step is taken from the cache when an image made from the same
 * parent by the same step (instruction, config, ARG values, the copied
 * files' content and metadata) exists. Stages the target needs build in
 * parallel, each as far as its dependencies allow.
 */
export class Build {
  private readonly file: string;
  private readonly df: Dockerfile;
  private readonly metaArgs = new Map<string, string | undefined>();
  private readonly consumed = new Set<string>();
  private readonly hashes: Map<string, string>;
  private readonly results = new Map<number, Promise<State>>();
  private readonly stepNo = new Map<Instruction, number>();
  private totalSteps = 0;
  private failed = false;
  /** Images this build stands on, kept from deletion until it ends. */
  private readonly pinned: Digest[] = [];
  private needed = new Set<number>();
  /** The stage whose messages go out now; later ones are held. */
  private speaking = 0;
  private readonly held = new Map<number, { texts: string[]; bytes: number }>();
  private readonly live = new Set<number>();
  private readonly finished = new Set<number>();
  /** Base images by name, pulled or found once per build. */
  private readonly bases = new Map<string, Promise<Digest>>();

  constructor(
    private readonly images: ImageStore,
    private readonly worker: BuildWorker,
    private readonly ctx: BuildContext,
    private readonly scratch: string,
    private readonly o: BuildOptions,
    private readonly emit: (m: BuildMessage) => void,
  ) {
    this.file = ctx.dockerfile.name;
    this.hashes = new Map(ctx.hashes);
    this.df = parseDockerfile(ctx.dockerfile.text, this.file);
    for (const t of o.tags ?? []) normalize(t); // a bad name fails before any work
    const host = hostPlatform();
    const platform = `${host.os}/${host.architecture}${host.variant ? `/${host.variant}` : ''}`;
    if (o.platform && o.platform !== platform && o.platform !== `${host.os}/${host.architecture}`) throw invalidArgument(`Berth builds for ${platform} only, not ${o.platform}`);
    // BuildKit's automatic platform args: in FROM lines, and in a stage that declares them.
    for (const [side, p] of [['BUILD', host], ['TARGET', host]] as const) {
      this.metaArgs.set(`${side}PLATFORM`, platform);
      this.metaArgs.set(`${side}OS`, p.os);
      this.metaArgs.set(`${side}ARCH`, p.architecture);
      this.metaArgs.set(`${side}VARIANT`, p.variant ?? '');
    }
    const args = o.buildArgs ?? {};
    for (const i of this.df.metaArgs) {
      for (const [k, v] of this.wrap(i, () => keyValues(i.args, this.metaVars(), 'ARG', this.df.escape))) {
        this.metaArgs.set(k, k in args ? args[k] : (v ?? this.metaArgs.get(k)));
        this.consumed.add(k);
      }
    }
  }

  private metaVars(): Map<string, string> {
    return varsOf({}, this.metaArgs);
  }

  /**
   * Stages build in parallel but speak in file order: a stage's messages
   * are held until the stages before it are done, so the output reads as
   * docker's sequential one.
   */
  private say(text: string, stage?: number): void {
    if (stage === undefined || stage <= this.speaking || this.live.has(stage)) return this.emit({ stream: text });
    const held = this.held.get(stage) ?? { texts: [], bytes: 0 };
    held.texts.push(text);
    held.bytes += text.length;
    this.held.set(stage, held);
    // The daemon holds no unbounded output: past the bound, the stage speaks as it goes, interleaved.
    if (held.bytes > HELD_OUTPUT_BOUND) {
      this.live.add(stage);
      for (const t of held.texts) this.emit({ stream: t });
      this.held.delete(stage);
    }
  }

  private stageDone(stage: number): void {
    this.finished.add(stage);
    while (this.finished.has(this.speaking) || !this.needed.has(this.speaking)) {
      if (this.speaking >= this.df.stages.length) return;
      this.speaking++;
      for (const text of this.held.get(this.speaking)?.texts ?? []) this.emit({ stream: text });
      this.held.delete(this.speaking);
    }
  }

  async run(): Promise<ImageRecord> {
    try {
      return await this.runStages();
    } finally {
      for (const id of this.pinned) this.images.unpin(id);
    }
  }

  /** The state of a step's image, pinned until the build ends. */
  private async stateOf(state: State, id: Digest): Promise<State> {
    this.images.pin(id);
    this.pinned.push(id);
    return { ...state, image: id, config: await this.images.config(id), layers: (await this.images.manifest(id)).layers };
  }

  private async runStages(): Promise<ImageRecord> {
    const t0 = performance.now();
    const target = this.targetStage();
    const needed = this.neededStages(target);
    this.needed = needed;
    this.speaking = Math.min(...needed);
    for (const s of this.df.stages.filter((x) => needed.has(x.index))) {
      this.stepNo.set(s.from, ++this.totalSteps);
      for (const i of s.instructions) this.stepNo.set(i, ++this.totalSteps);
    }
    for (const idx of needed) this.stage(idx);
    const settled = await Promise.allSettled([...needed].map((idx) => this.stage(idx)));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof Cancelled));
    if (failure) throw failure.reason;
    this.speaking = Infinity;
    let state = await this.stage(target.index);
    if (this.o.labels && Object.keys(this.o.labels).length) {
      const text = `LABEL ${Object.entries(this.o.labels).map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ')}`;
      state = await this.step(state, parseInstruction(text, target.from.line, this.file));
    }
    if (this.o.squash) state = await this.squash(state);
    const id = state.image;
    if (!id) throw invalidArgument('No image was generated. Is your Dockerfile empty?');
    const unused = Object.keys(this.o.buildArgs ?? {}).filter((k) => !this.consumed.has(k) && !PROXY_ARGS.has(k));
    if (unused.length) this.say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    this.emit({ aux: { ID: id } });
    this.say(`Successfully built ${short(id)}${this.o.timings ? ` in ${seconds(t0)}` : ''}\n`);
    for (const t of this.o.tags ?? []) {
      await this.images.tag(id, t);
      this.say(`Successfully tagged ${familiarString(parseReference(normalize(t)))}\n`);
    }
    return (await this.images.get(id))!;
  }

  private targetStage(): Stage {
    if (!this.o.target) return this.df.stages[this.df.stages.length - 1];
    const s = this.df.stages.find((x) => x.name === this.o.target!.toLowerCase());
    if (!s) throw invalidArgument(`failed to reach build target ${this.o.target} in Dockerfile`);
    return s;
  }

  /** The stage a FROM or --from names, if it names one defined before `before`. */
  private stageNamed(ref: string, before: number): Stage | undefined {
    const lower = ref.toLowerCase();
    const byName = this.df.stages.find((s) => s.name === lower && s.index < before);
    if (byName) return byName;
    return /^\d+$/.test(ref) && Number(ref) < before ? this.df.stages[Number(ref)] : undefined;
  }

  /** The target and every stage it reads from, through FROM and COPY --from. */
  private neededStages(target: Stage): Set<number> {
    const needed = new Set<number>();
    const visit = (s: Stage) => {
      if (needed.has(s.index)) return;
      needed.add(s.index);
      const refs = [this.fromImage(s)];
      for (const i of s.instructions) {
        const f = i.flags.get('from');
        if (i.keyword === 'COPY' && typeof f === 'string') refs.push(expandWord(f, this.metaVars(), this.df.escape));
        for (const m of i.mounts) {
          const from = /(?:^|,)\s*from=([^,]+)/.exec(m)?.[1];
          if (from) refs.push(expandWord(from, this.metaVars(), this.df.escape));
        }
      }
      for (const r of refs) {
        const dep = this.stageNamed(r, s.index);
        if (dep) visit(dep);
      }
    };
    visit(target);
    return needed;
  }

  private fromImage(s: Stage): string {
    return this.wrap(s.from, () => expandWord(s.from.args.split(/\s+/)[0], this.metaVars(), this.df.escape));
  }

  private stage(index: number): Promise<State> {
    let p = this.results.get(index);
    if (!p) {
      p = this.buildStage(this.df.stages[index]).then(
        (st) => {
          this.stageDone(index);
          return st;
        },
        (e) => {
          this.failed = true;
          this.stageDone(index);
          throw e;
        },
      );
      p.catch(() => {});
      this.results.set(index, p);
    }
    return p;
  }

  private async buildStage(s: Stage): Promise<State> {
    let state = await this.from(s);
    for (const i of s.instructions) state = await this.step(state, i);
    return state;
  }

  private header(i: Instruction, stage: number): void {
    if (this.failed || this.o.signal?.aborted) throw new Cancelled('the build was cancelled');
    this.say(`Step ${this.stepNo.get(i) ?? '-'}/${this.totalSteps} : ${i.text}\n`, stage);
  }

  private async from(s: Stage): Promise<State> {
    this.header(s.from, s.index);
    const ref = this.fromImage(s);
    const platform = s.from.flags.get('platform');
    if (typeof platform === 'string') {
      const want = expandWord(platform, this.metaVars(), this.df.escape);
      const host = hostPlatform();
      if (want && want !== `${host.os}/${host.architecture}`) throw lineError(this.file, s.from, `Berth builds for ${host.os}/${host.architecture} only`);
    }
    const args = new Map<string, string | undefined>();
    const dep = this.stageNamed(ref, s.index);
    let state: State;
    const empty: State = { stage: s.index, config: { ...hostPlatform(), rootfs: { type: 'layers', diff_ids: [] }, config: {} }, layers: [], args, cmdSet: false, base: { layers: 0 } };
    if (dep) state = { ...(await this.stage(dep.index)), stage: s.index, args, cmdSet: false };
    else if (ref === 'scratch') state = empty;
    else state = await this.stateOf(empty, await this.wrap(s.from, () => this.baseImage(ref, s.index)));
    state = { ...state, base: { image: state.image, layers: state.layers.length } };
    if (state.image) this.say(` ---> ${short(state.image)}\n`, s.index);
    const triggers = state.config.config?.OnBuild ?? [];
    if (!triggers.length) return state;
    // As docker: the base's triggers run now and are not passed on.
    state = { ...state, config: { ...state.config, config: { ...state.config.config, OnBuild: null } } };
    this.say(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`, s.index);
    for (const t of triggers) state = await this.step(state, parseInstruction(t, s.from.line, this.file), true);
    return state;
  }

  /** Runs fn; an expected error gets the file, line and instruction in its message. */
  /**
   * A base image: pulled when `--pull` says so, or when it is not here
   * (as docker's classic builder); each name is pulled once per build.
   */
  private baseImage(ref: string, stage: number): Promise<Digest> {
    let p = this.bases.get(ref);
    if (!p) {
      p = (async () => {
        if (!this.o.pull) {
          const local = await this.images.resolve(ref).catch((e) => {
            if (e instanceof BerthError && e.code === 'not_found') return undefined;
            throw e;
          });
          if (local) return local.id;
        }
        return this.worker.pull(ref, (line) => this.say(line, stage), this.o.signal);
      })();
      this.bases.set(ref, p);
    }
    return p;
  }

  private wrap<T>(i: Instruction, fn: () => T): T {
    const rewrap = (e: unknown): never => {
      if (e instanceof BerthError && !e.message.startsWith(`${this.file}:`)) throw lineError(this.file, i, e.message, e.code, e.exitCode);
      throw e;
    };
    try {
      const r = fn();
      return (r instanceof Promise ? r.catch(rewrap) : r) as T;
    } catch (e) {
      return rewrap(e);
    }
  }

  private step(state: State, i: Instruction, trigger = false): Promise<State> {
    if (!trigger) this.header(i, state.stage);
    return this.wrap(i, () => this.dispatch(state, i));
  }

  private vars(state: State): Map<string, string> {
    return varsOf(state.config.config ?? {}, state.args);
  }

  private async dispatch(state: State, i: Instruction): Promise<State> {
    const t0 = performance.now();
    const config = state.config.config ?? {};
    switch (i.keyword) {
      case 'ARG':
        return this.arg(state, i, t0);
      case 'RUN':
        return this.runStep(state, i, t0);
      case 'COPY':
      case 'ADD':
        return this.copyStep(state, i, t0);
    }
    if (!METADATA.has(i.keyword)) throw invalidArgument(`unknown instruction: ${i.keyword}`);
    const r = applyMetadata(config, i, this.vars(state), this.df.escape, state.cmdSet);
    const next = { ...state, cmdSet: r.cmdSet ?? state.cmdSet };
    const step: Step = { createdBy: r.createdBy, config: r.config, author: r.author };
    if (i.keyword === 'WORKDIR') return this.commit(next, step, t0, () => this.makeWorkdir(state, r.config.WorkingDir!));
    return this.commit(next, step, t0);
  }

  private took(t0: number): string {
    return this.o.timings ? ` (${seconds(t0)})` : '';
  }

  private async arg(state: State, i: Instruction, t0: number): Promise<State> {
    const args = new Map(state.args);
    const given = this.o.buildArgs ?? {};
    const pairs = keyValues(i.args, this.vars(state), 'ARG', this.df.escape);
    for (const [k, dflt] of pairs) {
      args.set(k, k in given ? given[k] : (dflt ?? this.metaArgs.get(k)));
      this.consumed.add(k);
    }
    const text = pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ');
    return this.commit({ ...state, args }, { createdBy: `/bin/sh -c #(nop)  ARG ${text}`, config: state.config.config ?? {}, key: [...args] }, t0);
  }

  /** The ARGs a RUN sees (and is keyed on): declared, with a value, not shadowed by ENV. */
  private runArgs(state: State): [string, string][] {
    const env = new Set((state.config.config?.Env ?? []).map((e) => e.split('=')[0]));
    return [...state.args].filter((a): a is [string, string] => a[1] !== undefined && !env.has(a[0])).sort(([a], [b]) => (a < b ? -1 : 1));
  }

  private async runStep(state: State, i: Instruction, t0: number): Promise<State> {
    const config = state.config.config ?? {};
    const { cmd, script } = runCommand(i, config.Shell);
    if (!cmd.length || (!i.json && !i.args)) throw invalidArgument('RUN requires at least one argument');
    const args = this.runArgs(state);
    const vars = this.vars(state);
    const mounts = i.mounts.map((m) => parseRunMount(expandWord(m, vars, this.df.escape), config.WorkingDir));
    const network = this.runNetwork(i, vars);
    const security = this.flag(i, 'security', vars);
    if (security && security !== 'sandbox') throw invalidArgument(`--security=${security} needs the security.insecure entitlement, which Berth does not grant`);
    const createdBy = (args.length ? `|${args.length} ${args.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '') + cmd.join(' ');
    const proxies = Object.entries(this.o.buildArgs ?? {}).filter(([k]) => PROXY_ARGS.has(k)).map(([k, v]) => `${k}=${v}`);
    const sources = this.mountSources(i);
    const key = mounts.length || i.flags.has('network') ? { mounts: await mountsKey(mounts, sources), network } : undefined;
    return this.commit(state, { createdBy, config, key }, t0, () =>
      withMounts(mounts, script, sources, async (stepMounts, secretEnv) => {
        const spec: RunSpec = {
          cmd,
          env: [...(config.Env ?? []), ...args.map(([k, v]) => `${k}=${v}`), ...proxies, ...secretEnv],
          user: config.User ?? '',
          workdir: config.WorkingDir ?? '',
          network,
          extraHosts: this.o.extraHosts ?? [],
          mounts: stepMounts,
        };
        const { exitCode, changes } = await this.worker.run(state.image, spec, (data) => this.say(data.toString(), state.stage), this.o.signal);
        if (exitCode !== 0) {
          await changes.release();
          throw new BerthError('internal', `The command '${cmd.join(' ')}' returned a non-zero code: ${exitCode}`, { exitCode });
        }
        return changes;
      }),
    );
  }

  /** RUN's network: the build's (`--network`, the default bridge unless it says), or `RUN --network=none|default|host`. */
  private runNetwork(i: Instruction, vars: Map<string, string>): string {
    const build = this.o.network || 'bridge';
    const asked = this.flag(i, 'network', vars) ?? 'default';
    if (asked === 'default') return build;
    if (asked === 'none') return 'none';
    if (asked === 'host' && build === 'host') return 'host';
    if (asked === 'host') throw invalidArgument('RUN --network=host needs the build itself on the host network (build --network host)');
    throw invalidArgument(`RUN --network=${asked}: none, default or host is expected`);
  }

  private mountSources(i: Instruction): MountSources {
    return {
      context: this.ctx.dir,
      hashes: this.hashes,
      image: (ref) => this.imageNamed(ref, i),
      read: (image, fn) => this.worker.read(image, fn),
      secrets: this.o.secrets ?? {},
      scratch: this.scratch,
    };
  }

  /** The image a `--from` names: a stage before this one, or an image (pulled when it is not here). */
  private async imageNamed(ref: string, i: Instruction): Promise<Digest | undefined> {
    const dep = this.stageNamed(ref, this.stageOf(i));
    return dep ? (await this.stage(dep.index)).image : this.wrap(i, () => this.baseImage(ref, this.stageOf(i)));
  }

  private async copyStep(state: State, i: Instruction, t0: number): Promise<State> {
    const vars = this.vars(state);
    // Here-document markers name files of their own; the other words are sources and the destination.
    const words = i.json ?? expandWords(i.heredocs.length ? i.args.replace(/(^|\s)\d*<<-?(["']?)[^\s"']+\2(?=\s|$)/g, ' ') : i.args, vars, this.df.escape);
    if (words.length + i.heredocs.length < 2) throw invalidArgument(`${i.keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
    const specs = words.slice(0, -1);
    if (!words.length) throw invalidArgument(`${i.keyword} requires a destination`);
    const dest = destination(words[words.length - 1], state.config.config?.WorkingDir);
    const chown = this.flag(i, 'chown', vars);
    const chmodText = this.flag(i, 'chmod', vars);
    if (chmodText !== undefined && !/^[0-7]{3,4}$/.test(chmodText)) throw invalidArgument(`invalid --chmod=${chmodText}: an octal mode is expected`);
    const chmod = chmodText === undefined ? undefined : parseInt(chmodText, 8);
    const from = this.flag(i, 'from', vars);
    const checksum = this.flag(i, 'checksum', vars);
    const copy = async (root: string, inContext: boolean) => {
      const sources = [...(specs.length ? await this.sources(i, root, specs, inContext, checksum) : []), ...(await this.heredocSources(i, vars))];
      // Digests are remembered for the context only: a stage's or image's files sit under a mount of the moment.
      const digest = await sourcesDigest(sources, inContext ? this.hashes : new Map());
      const kind = sources.length > 1 ? 'multi' : sources[0].stat.isDirectory() ? 'dir' : 'file';
      const createdBy = `/bin/sh -c #(nop) ${i.keyword} ${kind}:${digest} in ${dest} `;
      return this.commit(state, { createdBy, config: state.config.config ?? {}, key: { chown, chmod, from } }, t0, () =>
        this.worker.change(state.image, async (rootfs) => {
          const owner = chown === undefined ? undefined : await ownerIn(rootfs, chown);
          await copySources(rootfs, sources, dest, { owner, chmod });
        }),
      );
    };
    if (from === undefined) return copy(this.ctx.dir, true);
    return this.worker.read(await this.imageNamed(from, i), (root) => copy(root, false));
  }

  /** COPY's and ADD's here-documents, as files named by their markers (mode 0644); unquoted ones expanded. */
  private async heredocSources(i: Instruction, vars: Map<string, string>): Promise<Source[]> {
    if (!i.heredocs.length) return [];
    const dir = path.join(this.scratch, `heredoc-${newId().slice(0, 12)}`);
    await mkdirp(dir, 0o700);
    const out: Source[] = [];
    for (const h of i.heredocs) {
      const text = heredocText(h);
      const file = path.join(dir, h.name);
      await fsp.writeFile(file, h.expand ? expandHeredoc(text, vars, this.df.escape) : text, { mode: 0o644 });
      await fsp.chmod(file, 0o644);
      out.push({ host: file, name: h.name, stat: await fsp.lstat(file) });
    }
    return out;
  }

  private stageOf(i: Instruction): number {
    return this.df.stages.find((s) => s.instructions.includes(i))?.index ?? this.df.stages.length;
  }

  private flag(i: Instruction, name: string, vars: Map<string, string>): string | undefined {
    const v = i.flags.get(name);
    if (v === true) throw invalidArgument(`--${name} needs a value`);
    return v === undefined ? undefined : expandWord(v, vars, this.df.escape);
  }

  /** COPY's sources, or ADD's: also URLs (fetched) and local archives (unpacked). */
  private async sources(i: Instruction, root: string, specs: string[], inContext: boolean, checksum?: string): Promise<Source[]> {
    if (i.keyword === 'COPY') return findSources(root, specs, inContext);
    if (checksum !== undefined && (specs.length !== 1 || !/^https?:\/\//.test(specs[0]))) throw invalidArgument('ADD --checksum needs one URL as its source');
    const out: Source[] = [];
    for (const spec of specs) {
      if (/^https?:\/\//.test(spec)) out.push(await this.fetch(spec, checksum));
      else if (/^git@|\.git(#|$)/.test(spec)) throw invalidArgument(`ADD of a git repository needs BuildKit: ${spec}`);
      else for (const s of await findSources(root, [spec], inContext)) out.push({ ...s, unpack: s.stat.isFile() ? await archiveKind(s.host) : undefined });
    }
    return out;
  }

  /** ADD <url>: the file, saved as docker saves it (mode 0600, named by the URL's last part). */
  private async fetch(url: string, checksum?: string): Promise<Source> {
    const name = path.posix.basename(new URL(url).pathname) || 'index.html';
    const dir = path.join(this.scratch, `add-${sha256(url).slice(7, 19)}`);
    await mkdirp(dir, 0o700);
    const file = path.join(dir, name);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const data = Buffer.from(await res.arrayBuffer());
      if (checksum !== undefined && sha256(data) !== checksum) throw invalidArgument(`ADD ${url}: digest mismatch: expected ${checksum}, got ${sha256(data)}`);
      await fsp.writeFile(file, data, { mode: 0o600 });
      const modified = Date.parse(res.headers.get('last-modified') ?? '');
      if (!Number.isNaN(modified)) await fsp.utimes(file, new Date(modified), new Date(modified));
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw new BerthError('unavailable', `cannot download ${url}: ${errorMessage((e as Error).cause ?? e)}`);
    }
    return { host: file, name, stat: await fsp.lstat(file) };
  }

  private async makeWorkdir(state: State, dir: string): Promise<Changes | undefined> {
    const exists = await this.worker.read(state.image, async (root) => (await statIfExists(await resolveIn(root, dir, true)))?.isDirectory());
    if (exists) return undefined;
    return this.worker.change(state.image, async (root) => makeDirs(root, await resolveIn(root, dir, true), { uid: 0, gid: 0 }));
  }

  /**
   * --squash: the layers the final stage added become one, applied in turn
   * onto its base (whiteouts delete); the history keeps every step, as
   * docker's, and the steps' own images stay as cache.
   */
  private async squash(state: State): Promise<State> {
    const t0 = performance.now();
    const fresh = state.layers.slice(state.base.layers);
    if (fresh.length < 2) return state;
    this.say(`Squashing ${fresh.length} layers\n`);
    const changes = await this.worker.change(state.base.image, async (root) => {
      for (const l of fresh) await applyLayer(root, decompressed(await this.images.content.stream(l.digest)), { whiteouts: 'delete' });
    });
    try {
      const rec = await this.images.gate.shared(async () => {
        const layer = await this.images.content.ingest(packLayer(changes.upper));
        const now = new Date().toISOString();
        const baseIds = state.config.rootfs.diff_ids.slice(0, state.base.layers);
        let kept = 0;
        // Every history entry keeps its text; only the last one of the build carries the merged layer.
        const history = (state.config.history ?? []).map((h) => (h.empty_layer || ++kept <= state.base.layers ? h : { ...h, empty_layer: true }));
        const image: ImageConfig = {
          ...state.config,
          created: now,
          rootfs: { type: 'layers', diff_ids: [...baseIds, layer.digest] },
          history: [...history, { created: now, created_by: `berth build --squash: ${fresh.length} layers merged`, comment: 'merge of the layers of the final stage' }],
        };
        return createImage(this.images, image, [...state.layers.slice(0, state.base.layers), layer], [], { parent: state.base.image });
      });
      this.say(` ---> ${short(rec.id)}${this.took(t0)}\n`);
      return this.stateOf(state, rec.id);
    } finally {
      await changes.release();
    }
  }

  /** The --cache-from images, found once per build; a name not here is said and skipped. */
  private cacheSources?: Promise<CacheSource[]>;

  /**
   * The step's image from a --cache-from image's history, as docker's
   * classic builder restores it: the parent's history and layers, plus the
   * source's entry and layer for the step. Unlike docker, the local cache
   * keeps serving too (docker ignores it once --cache-from is given).
   */
  private async fromCacheSources(state: State, s: Step, key: string): Promise<Digest | undefined> {
    if (!this.o.cacheFrom?.length) return undefined;
    this.cacheSources ??= (async () => {
      const out: CacheSource[] = [];
      for (const ref of this.o.cacheFrom!) {
        const rec = await this.images.resolve(ref).catch((e) => {
          if (e instanceof BerthError && e.code === 'not_found') return undefined;
          throw e;
        });
        if (!rec) {
          this.say(`[Warning] --cache-from ${ref}: no such image here, skipped (pull it first)\n`);
          continue;
        }
        this.images.pin(rec.id);
        this.pinned.push(rec.id);
        out.push({ id: rec.id, config: await this.images.config(rec.id), layers: (await this.images.manifest(rec.id)).layers });
      }
      return out;
    })();
    const hit = cacheSourceStep(await this.cacheSources, state.config, s.createdBy);
    if (!hit) return undefined;
    if (hit.whole) return hit.source.id;
    // As docker: once a source served, the following steps follow the same one.
    this.cacheSources = Promise.resolve([hit.source]);
    const image: ImageConfig = {
      ...state.config,
      created: hit.entry.created ?? new Date().toISOString(),
      author: hit.source.config.author,
      config: s.config,
      rootfs: { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, ...(hit.layer ? [hit.layer.diffId] : [])] },
      history: [...(state.config.history ?? []), hit.entry],
    };
    const layers = hit.layer ? [...state.layers, hit.layer.descriptor] : state.layers;
    const rec = await this.images.gate.shared(() => createImage(this.images, image, layers, [], { parent: state.image, buildKey: key }));
    return rec.id;
  }

  /**
   * Takes the step's image from the cache, or makes it: `work` gives the
   * step's changes (none: a metadata step, no layer), packed as a layer.
   */
  private async commit(state: State, s: Step, t0: number, work?: () => Promise<Changes | undefined>): Promise<State> {
    const key = sha256(JSON.stringify({ by: s.createdBy, config: s.config, key: s.key, author: s.author ?? null }));
    const cached = this.o.noCache ? undefined : ((await this.images.findChild(state.image, key))?.id ?? (await this.fromCacheSources(state, s, key)));
    if (cached) {
      this.say(` ---> Using cache\n ---> ${short(cached)}\n`, state.stage);
      return this.stateOf(state, cached);
    }
    const changes = await work?.();
    const now = new Date().toISOString();
    try {
      const rec = await this.images.gate.shared(async () => {
        const layer = changes ? await this.images.content.ingest(packLayer(changes.upper, changes.skip)) : undefined;
        const image: ImageConfig = {
          ...state.config,
          created: now,
          author: s.author ?? state.config.author,
          config: s.config,
          rootfs: { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, ...(layer ? [layer.digest] : [])] },
          history: [...(state.config.history ?? []), { created: now, created_by: s.createdBy, ...(layer ? {} : { empty_layer: true }) }],
        };
        return createImage(this.images, image, layer ? [...state.layers, layer] : state.layers, [], { parent: state.image, buildKey: key });
      });
      this.say(` ---> ${short(rec.id)}${this.took(t0)}\n`, state.stage);
      return this.stateOf(state, rec.id);
    } finally {
      await changes?.release();
    }
  }
}

/** COPY's destination: relative to WORKDIR, a trailing `/` kept (it means "into"). */
function destination(dest: string, workdir = '/'): string {
  const abs = path.posix.resolve(workdir || '/', dest);
  return dest.endsWith('/') || dest === '.' ? `${abs.replace(/\/$/, '')}/` : abs;
}

/** --chown=user[:group], names looked up in the image's /etc/passwd and /etc/group; a lone user gives its id as group too. */
async function ownerIn(rootfs: string, spec: string): Promise<Owner> {
  const [user, group] = spec.split(':');
  const db = await readUserDb(rootfs);
  const uid = /^\d+$/.test(user) ? Number(user) : resolveUser(user, db.passwd, db.groups).uid;
  if (group === undefined) return { uid, gid: uid };
  const gid = /^\d+$/.test(group) ? Number(group) : resolveUser(`0:${group}`, db.passwd, db.groups).gid;
  return { uid, gid };
}
