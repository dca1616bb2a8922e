import type { IncomingMessage } from 'node:http';
import * as https from 'node:https';
import { errorMessage } from '../base/errors';
import type { Logger } from '../base/log';
import { FrameDecoder } from '../engine/logs/frames';
import type { Credentials } from './tls/pki';

/** One task's log, where it is: the task, its node's cluster endpoint, and docker's details for its lines. */
export interface TaskLogSource {
  taskId: string;
  /** host:port of the node's cluster endpoint. */
  addr: string;
  /** `com.docker.swarm.node.id=...,com.docker.swarm.service.id=...,com.docker.swarm.task.id=...`, as docker's details. */
  details: string;
}

export interface ServiceLogOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  since?: string;
  until?: string;
  tail?: string;
  timestamps: boolean;
  details: boolean;
}

/** Lines queued from the nodes before their streams are paused (a slow client holds the nodes back, not the manager's memory). */
const HIGH_WATER = 1024;

/**
 * docker's `service logs` on a manager: each task's log streamed from its
 * node's endpoint (mutual TLS, this manager's certificate), lines merged
 * as they come (as swarm merges them, not sorted across tasks), each with
 * its time and docker's details when asked. A node that cannot be reached
 * is left out, and said so in the daemon's log; the others go on.
 */
export async function* serviceLogs(sources: TaskLogSource[], creds: Credentials, o: ServiceLogOptions, logger: Logger, signal: AbortSignal): AsyncGenerator<{ stream: number; line: Buffer }> {
  const queue: { stream: number; line: Buffer }[] = [];
  const paused = new Set<IncomingMessage>();
  let open = sources.length;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const shape = (s: TaskLogSource, line: Buffer): Buffer => {
    // The node sends `<time> <message>`; the client asked for the time or not, the details or not.
    const sp = line.indexOf(0x20);
    const time = sp < 0 ? '' : line.subarray(0, sp).toString('latin1');
    const msg = sp < 0 ? line : line.subarray(sp + 1);
    const head = `${o.timestamps && time ? `${time} ` : ''}${o.details ? `${s.details} ` : ''}`;
    return Buffer.concat([Buffer.from(head, 'latin1'), msg, Buffer.from('\n')]);
  };
  const requests = sources.map((s) => {
    const [host, port] = [s.addr.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(s.addr)?.[1])];
    const q = new URLSearchParams({ follow: o.follow ? '1' : '0', stdout: o.stdout ? '1' : '0', stderr: o.stderr ? '1' : '0', ...(o.since ? { since: o.since } : {}), ...(o.until ? { until: o.until } : {}), ...(o.tail ? { tail: o.tail } : {}) });
    const req = https.request({ host, port, path: `/tasks/${s.taskId}/logs?${q}`, ca: creds.ca, cert: creds.cert, key: creds.key, signal, timeout: 10_000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        done(s, `answered ${res.statusCode}`);
        return;
      }
      req.setTimeout(0);
      const dec = new FrameDecoder();
      res.on('data', (chunk: Buffer) => {
        for (const x of dec.push(chunk)) queue.push({ stream: x.stream, line: shape(s, x.line) });
        if (queue.length > HIGH_WATER) {
          res.pause();
          paused.add(res);
        }
        poke();
      });
      res.on('end', () => {
        for (const x of dec.end()) queue.push({ stream: x.stream, line: shape(s, x.line) });
        done(s);
      });
      res.on('error', (e) => done(s, errorMessage(e)));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (e) => done(s, errorMessage(e)));
    req.end();
    return req;
  });
  signal.addEventListener('abort', poke);
  const finished = new Set<string>();
  function done(s: TaskLogSource, error?: string) {
    if (finished.has(s.taskId)) return;
    finished.add(s.taskId);
    if (error && !signal.aborted) logger.warn('service logs: a task\'s log could not be read', { task: s.taskId, node: s.addr, error });
    open--;
    poke();
  }
  try {
    while (!signal.aborted && (open > 0 || queue.length)) {
      if (!queue.length) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      yield queue.shift()!;
      if (queue.length < HIGH_WATER / 2 && paused.size) {
        for (const res of paused) res.resume();
        paused.clear();
      }
    }
  } finally {
    signal.removeEventListener('abort', poke);
    for (const r of requests) r.destroy();
  }
}
