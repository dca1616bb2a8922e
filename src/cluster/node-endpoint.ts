import type { ServerResponse } from 'node:http';
import { notFound } from '../base/errors';
import { encodeBatch } from '../engine/logs/frames';
import type { AgentEngine } from './agent/agent';

/**
 * This node's answer to a manager's `service logs`: a task container's
 * log as docker's multiplexed frames, every line with its time (the
 * manager decides what its client sees), following while asked.
 */
export async function serveTaskLogs(engine: AgentEngine, taskId: string, q: URLSearchParams, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const c = engine.taskContainers().find((x) => x.taskId === taskId);
  if (!c) throw notFound(`task ${taskId} has no container on this node`);
  const opt = (k: string) => q.get(k) ?? undefined;
  const batches = engine.logs(c.id, { follow: q.get('follow') === '1', stdout: q.get('stdout') !== '0', stderr: q.get('stderr') !== '0', since: opt('since'), until: opt('until'), tail: opt('tail') }, signal);
  // Headers wait for the first batch: a log that cannot be read is then an error status, not an empty stream.
  let started = false;
  for await (const batch of batches) {
    if (signal.aborted) break;
    if (!started) res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
    started = true;
    if (!res.write(encodeBatch(batch, { tty: false, timestamps: true }))) await new Promise((r) => res.once('drain', r));
  }
  if (!started) res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
  res.end();
}
