import { invalidArgument } from '../../base/errors';
import type { Condition, Service } from './model';

/** A service waits for another: what it waits for, and through which field. */
export interface Edge {
  from: string;
  to: string;
  condition: Condition;
  required: boolean;
  restart: boolean;
  via: 'depends_on' | 'links' | 'volumes_from' | 'network_mode';
}

/** The services a service needs started first: depends_on, links, volumes_from and network_mode: service:X. */
export function edgesOf(s: Service): Edge[] {
  const out = new Map<string, Edge>();
  const add = (to: string, via: Edge['via']) => {
    if (!out.has(to)) out.set(to, { from: s.name, to, condition: 'service_started', required: true, restart: false, via });
  };
  for (const [to, d] of Object.entries(s.depends_on)) out.set(to, { from: s.name, to, ...d, via: 'depends_on' });
  for (const l of s.links) add(l.split(':')[0], 'links');
  for (const v of s.volumes_from) if (!v.startsWith('container:')) add(v.split(':')[0], 'volumes_from');
  if (s.network_mode?.startsWith('service:')) add(s.network_mode.slice(8), 'network_mode');
  return [...out.values()];
}

/**
 * The project's dependency graph. Built only without cycles: a cycle is an
 * error that names its path. Ties are broken by name, so orders are stable.
 */
export class ServiceGraph {
  private readonly out = new Map<string, Edge[]>();
  private readonly in = new Map<string, string[]>();

  constructor(services: Iterable<Service>) {
    for (const s of services) {
      this.out.set(s.name, edgesOf(s));
      this.in.set(s.name, this.in.get(s.name) ?? []);
    }
    for (const [name, edges] of this.out) {
      for (const e of edges) if (this.out.has(e.to)) this.in.get(e.to)!.push(name);
    }
    const cycle = this.findCycle();
    if (cycle) throw invalidArgument(`dependency cycle detected: ${cycle.join(' -> ')}`);
  }

  get names(): string[] {
    return [...this.out.keys()].sort();
  }

  /** What this service waits for (edges to services of the graph only). */
  needs(name: string): Edge[] {
    return (this.out.get(name) ?? []).filter((e) => this.out.has(e.to));
  }

  /** The services that wait for this one. */
  dependents(name: string): string[] {
    return [...(this.in.get(name) ?? [])].sort();
  }

  /** The named services with everything they need, transitively. */
  closure(names: Iterable<string>): Set<string> {
    return this.reach(names, (n) => this.needs(n).map((e) => e.to));
  }

  /** The named services with everything that needs them, transitively. */
  dependentsClosure(names: Iterable<string>): Set<string> {
    return this.reach(names, (n) => this.dependents(n));
  }

  private reach(names: Iterable<string>, next: (n: string) => string[]): Set<string> {
    const seen = new Set<string>();
    const stack = [...names];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n) || !this.out.has(n)) continue;
      seen.add(n);
      stack.push(...next(n));
    }
    return seen;
  }

  /**
   * Topological waves of a subset: each wave's services need only services
   * of earlier waves (or outside the subset). Start in this order, stop in reverse.
   */
  waves(subset: Iterable<string> = this.out.keys()): string[][] {
    const want = new Set(subset);
    const left = new Map([...want].map((n) => [n, this.needs(n).filter((e) => want.has(e.to)).length]));
    const out: string[][] = [];
    let wave = [...left].filter(([, k]) => k === 0).map(([n]) => n).sort();
    while (wave.length) {
      out.push(wave);
      const next: string[] = [];
      for (const n of wave) {
        for (const d of this.dependents(n)) {
          if (!left.has(d)) continue;
          const k = left.get(d)! - 1;
          left.set(d, k);
          if (k === 0) next.push(d);
        }
      }
      wave = next.sort();
    }
    return out;
  }

  /** A cycle's path (`a -> b -> a`), or undefined; depth-first, iterative for graphs of thousands. */
  private findCycle(): string[] | undefined {
    const state = new Map<string, 1 | 2>(); // 1: on the path, 2: finished
    for (const root of this.names) {
      if (state.has(root)) continue;
      const path: string[] = [];
      const stack: { n: string; i: number }[] = [{ n: root, i: 0 }];
      state.set(root, 1);
      path.push(root);
      while (stack.length) {
        const top = stack[stack.length - 1];
        const edges = this.needs(top.n);
        if (top.i >= edges.length) {
          state.set(top.n, 2);
          stack.pop();
          path.pop();
          continue;
        }
        const to = edges[top.i++].to;
        if (state.get(to) === 1) return [...path.slice(path.indexOf(to)), to];
        if (!state.has(to)) {
          state.set(to, 1);
          path.push(to);
          stack.push({ n: to, i: 0 });
        }
      }
    }
    return undefined;
  }
}
