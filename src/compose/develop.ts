import * as path from 'node:path';
import { invalidArgument } from '../base/errors';
import { ignoreMatcher } from '../base/dockerignore';
import type { Project, Service, WatchTrigger } from './spec/model';

/**
 * Editors' and tools' scratch files (swap files, backups, lock files), never
 * worth a sync or a rebuild: the set docker compose ignores as well.
 */
const SCRATCH = [
  '**/.git', '**/*___jb_old___', '**/*___jb_tmp___', '**/.idea', '**/.#*', '**/#*#', '**/4913', '**/*~',
  '**/.*.swp', '**/.*.swx', '**/.*.swo', '**/.*.swn', '**/.*.kate-swp', '**/*-go-tmp-umask',
];
const scratch = ignoreMatcher(SCRATCH);

/** A changed host path, and where it lands in the service's containers (sync rules). */
export interface PathMapping {
  hostPath: string;
  containerPath?: string;
  rule: WatchRule;
}

/** A service's watch trigger with its matchers ready. */
export interface WatchRule {
  service: string;
  /** Its place among the project's rules (exec hooks run once per rule a batch touched). */
  index: number;
  trigger: WatchTrigger;
  matches(hostPath: string): PathMapping | undefined;
}

/** `rel` of `root`, '' for root itself; undefined outside it. */
function within(root: string, p: string): string | undefined {
  const rel = path.relative(root, p);
  if (rel === '') return '';
  return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel;
}

/**
 * The watch rules of the services named (all when none), checked as docker
 * compose checks them. `dockerignore(s)` is the service's build context's
 * .dockerignore: what is not sent to a build triggers nothing either.
 */
export function watchRules(p: Project, names: string[], dockerignore: (s: Service) => string[]): WatchRule[] {
  for (const n of names) if (!p.services[n]) throw invalidArgument(`no such service: ${n}`);
  const chosen = (names.length ? names : Object.keys(p.services).sort()).map((n) => p.services[n]).filter((s) => s.develop?.watch.length);
  if (!chosen.length) throw invalidArgument('none of the selected services is configured for watch, consider setting a \'develop\' section');
  const rules: WatchRule[] = [];
  for (const s of chosen) {
    const contextIgnored = s.build ? ignoreMatcher(dockerignore(s)) : () => false;
    s.develop!.watch.forEach((t, i) => {
      const where = `service "${s.name}": develop.watch[${i}]`;
      if (t.action.startsWith('sync') && !t.target) throw invalidArgument(`${where}: a ${t.action} rule needs a target in the container`);
      if (t.action === 'rebuild' && !s.build) throw invalidArgument(`service "${s.name}" has no build section: develop.watch[${i}] cannot rebuild it`);
      if (t.action === 'sync+exec' && !t.exec?.command.length) throw invalidArgument(`${where}: a sync+exec rule needs exec.command`);
      const ignored = ignoreMatcher(t.ignore);
      const included = t.include.length ? ignoreMatcher(t.include) : () => true;
      const rule: WatchRule = {
        service: s.name,
        index: rules.length,
        trigger: t,
        matches: (hostPath) => {
          const rel = within(t.path, hostPath);
          if (rel === undefined) return undefined;
          const name = rel || path.basename(hostPath);
          if (!included(name) || ignored(name) || scratch(name)) return undefined;
          const inContext = s.build ? within(s.build.context, hostPath) : undefined;
          if (inContext && contextIgnored(inContext)) return undefined;
          return { hostPath, containerPath: t.target ? path.posix.join(t.target, rel.split(path.sep).join('/')) : undefined, rule };
        },
      };
      rules.push(rule);
    });
  }
  return rules;
}

/** What one batch of changes asks of each service, in the order it is done. */
export interface BatchPlan {
  /** Built again and their containers replaced. */
  rebuild: string[];
  /** Files copied in (or removed, if gone from the host), by service. */
  sync: Map<string, PathMapping[]>;
  /** Restarted after their sync. */
  restart: string[];
  /** The rules whose exec hook runs after their sync, by service. */
  exec: Map<string, WatchRule[]>;
}

/** Which rules a batch of changed paths touches, and so what to do; a path a rule ignores is nothing to it. */
export function planBatch(rules: WatchRule[], changed: string[]): BatchPlan {
  const rebuild = new Set<string>();
  const restart = new Set<string>();
  const sync = new Map<string, Map<string, PathMapping>>();
  const exec = new Map<string, Map<number, WatchRule>>();
  for (const p of new Set(changed)) {
    for (const r of rules) {
      const m = r.matches(p);
      if (!m) continue;
      const { action } = r.trigger;
      if (action === 'rebuild') rebuild.add(r.service);
      if (action === 'restart' || action === 'sync+restart') restart.add(r.service);
      if (action.startsWith('sync')) {
        const files = sync.get(r.service) ?? new Map<string, PathMapping>();
        sync.set(r.service, files.set(m.containerPath!, m));
      }
      if (action === 'sync+exec') exec.set(r.service, (exec.get(r.service) ?? new Map()).set(r.index, r));
    }
  }
  return {
    rebuild: [...rebuild].sort(),
    sync: new Map([...sync].map(([s, files]) => [s, [...files.values()]])),
    restart: [...restart].sort(),
    exec: new Map([...exec].map(([s, byIndex]) => [s, [...byIndex.values()].sort((a, b) => a.index - b.index)])),
  };
}

/**
 * Changes come in bursts (an editor's save, a checkout, a build's output):
 * paths gathered until `quietMs` pass without a new one, then handed on as
 * one batch, as docker compose waits out its half second.
 */
export class Debouncer {
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly quietMs: number,
    private readonly flush: (paths: string[]) => void,
  ) {}

  add(p: string): void {
    this.pending.add(p);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const batch = [...this.pending];
      this.pending = new Set();
      this.flush(batch);
    }, this.quietMs);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
