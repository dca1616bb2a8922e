import type { ApiClient } from '../client/client';
import { Label } from './labels';
import type { GraphEdge, GraphNode } from './render-graph';
import { lastOutput, projectContainers } from './resources';
import { ServiceGraph } from './spec/graph';
import type { Project } from './spec/model';
import { type ContainerState, lastCheck } from './watch';

/** How one container stands, and why when it failed: docker's state, its health, its exit code, its last words. */
async function containerStanding(api: ApiClient, id: string): Promise<{ state: string; failed: boolean; reason?: string }> {
  const c = await api.json<ContainerState>('GET', `/containers/${id}/json`);
  const s = c.State;
  if (s.Health?.Status === 'unhealthy') return { state: 'unhealthy', failed: true, reason: lastCheck(c) };
  if (s.Running) return { state: s.Health?.Status === 'healthy' ? 'healthy' : s.Health ? 'starting' : 'running', failed: false };
  if (s.Status === 'exited' && s.ExitCode === 0) return { state: 'completed', failed: false };
  if (s.Status === 'exited' || s.Status === 'dead') return { state: `exited (${s.ExitCode})`, failed: true, reason: (await lastOutput(api, id)).replace(/^; its last output: /, '') || undefined };
  if (s.Status === 'created') return { state: 'created', failed: !!s.Error, reason: s.Error || undefined };
  return { state: s.Status, failed: false };
}

/**
 * The project's dependency graph with each service's state: the worst of its
 * containers; a service without containers is "not started", with the
 * failed service that kept it back, if one did.
 */
export async function projectGraph(api: ApiClient, p: Project): Promise<{ nodes: GraphNode[]; edges: GraphEdge[] }> {
  const graph = new ServiceGraph(Object.values(p.services));
  const containers = await projectContainers(api, p.name);
  const wave = new Map(graph.waves().flatMap((w, i) => w.map((n) => [n, i] as const)));
  const nodes = new Map<string, GraphNode>();
  for (const name of graph.names) {
    const mine = containers.filter((c) => c.Labels[Label.service] === name);
    const standings = await Promise.all(mine.map((c) => containerStanding(api, c.Id)));
    const worst = standings.find((x) => x.failed) ?? standings.find((x) => x.state !== 'running' && x.state !== 'healthy' && x.state !== 'completed') ?? standings[0];
    nodes.set(name, { name, wave: wave.get(name) ?? 0, ...(worst ?? { state: 'not started', failed: false }) });
  }
  // What kept a service back: the first of what it needs (transitively) that failed.
  for (const n of nodes.values()) {
    if (n.state !== 'not started') continue;
    const culprit = [...graph.closure([n.name])].map((x) => nodes.get(x)!).find((x) => x.failed);
    if (culprit) n.reason = `kept back by ${culprit.name}`;
  }
  const edges = graph.names.flatMap((n) => graph.needs(n).map((e) => ({ from: e.from, to: e.to, condition: e.condition })));
  return { nodes: [...nodes.values()], edges };
}
