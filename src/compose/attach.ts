import { invalidArgument } from '../base/errors';
import { ServiceGraph } from './spec/graph';
import type { Project } from './spec/model';

export interface AttachOptions {
  /** The services named on `up`'s command line (none: all). */
  services: string[];
  /** `--attach`: exactly these. */
  attach: string[];
  /** `--no-attach`: never these. */
  noAttach: string[];
  /** `--attach-dependencies`: the named services' dependencies too. */
  dependencies: boolean;
}

/**
 * Whose output an attached `up` shows, as docker compose chooses: `--attach`'s
 * services as given; else the services named (all when none), with their
 * dependencies under `--attach-dependencies`, less those whose file says
 * `attach: false`; then less `--no-attach`'s.
 */
export function attachTargets(p: Project, o: AttachOptions): string[] {
  if (o.attach.length && o.dependencies) throw invalidArgument('cannot combine --attach and --attach-dependencies');
  const graph = new ServiceGraph(Object.values(p.services));
  let names: Set<string>;
  if (o.attach.length) {
    const unknown = o.attach.filter((n) => !p.services[n]);
    if (unknown.length) throw invalidArgument(`cannot attach to services not included in up: ${unknown.join(', ')}`);
    names = new Set(o.attach);
  } else {
    const named = o.services.length ? o.services : graph.names;
    names = new Set([...(o.dependencies ? graph.closure(named) : named)].filter((n) => p.services[n].attach !== false));
  }
  for (const n of o.noAttach) names.delete(n);
  return [...names].sort();
}

/** What an attached `up` does when a container exits: nothing, stop all, or stop all on a failure. */
export type Cascade = 'ignore' | 'stop' | 'fail';

/**
 * The exit code of an attached `up` that ends on its own, as docker compose
 * gives it: under a cascade, that of the exit that stopped the project; with
 * `--exit-code-from`, that of the service's first exit instead.
 */
export class ExitCode {
  private cascaded?: number;
  private from?: number;

  constructor(
    private readonly cascade: Cascade,
    private readonly exitCodeFrom?: string,
  ) {}

  /** One container's exit; true when it should stop the project. */
  exited(service: string, code: number): boolean {
    if (service === this.exitCodeFrom && this.from === undefined) this.from = code;
    if (this.cascade === 'ignore' || this.cascaded !== undefined) return false;
    if (this.cascade === 'fail' && code === 0) return false;
    this.cascaded = code;
    return true;
  }

  get code(): number {
    return this.from ?? this.cascaded ?? 0;
  }
}
