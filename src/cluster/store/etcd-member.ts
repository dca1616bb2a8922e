import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { unavailable } from '../../base/errors';
import type { Logger } from '../../base/log';
import { which } from '../../base/which';

/** Where an embedded member listens and keeps its data. */
export interface MemberConfig {
  name: string;
  dataDir: string;
  /** The address others reach it at (its clients and peers listen there). */
  host: string;
  clientPort: number;
  peerPort: number;
  /** `name=http://host:peerPort,...`: the members of a new cluster (just this one at init). */
  initialCluster: string;
  /** 'new' at init; 'existing' for a member added to a running cluster. */
  state: 'new' | 'existing';
}

/** A TCP port free on the host now (the kernel's choice), for a member made at init. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * An etcd member the daemon runs and supervises (the embedded default of
 * `cluster init`): Debian's etcd-server, data under the daemon's data root,
 * restarted when it dies (a member that comes back with its data rejoins
 * its cluster), stopped with the daemon, and killed with it when it
 * crashes (so a crash of a manager is the crash of its member). Transactions may hold many
 * operations: a plan of hundreds of placements commits in few of them.
 */
export class EtcdMember {
  private proc?: ChildProcess;
  private stopped = false;
  private restarts = 0;

  constructor(
    readonly cfg: MemberConfig,
    private readonly logger: Logger,
  ) {}

  get clientUrl(): string {
    return `http://${this.cfg.host}:${this.cfg.clientPort}`;
  }

  get peerUrl(): string {
    return `http://${this.cfg.host}:${this.cfg.peerPort}`;
  }

  /** Starts the member; resolves once it answers on its client port. */
  async start(): Promise<void> {
    const bin = which('etcd');
    if (!bin) throw unavailable('cluster mode needs etcd (Debian package etcd-server), which is not installed: run scripts/setup');
    fs.mkdirSync(this.cfg.dataDir, { recursive: true, mode: 0o700 });
    this.spawn(bin);
    const until = Date.now() + 20_000;
    while (!(await this.answers())) {
      if (Date.now() > until) throw unavailable(`etcd did not answer on ${this.clientUrl} within 20 s: see ${path.join(this.cfg.dataDir, '..', 'etcd.log')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private spawn(bin: string): void {
    const c = this.cfg;
    const log = fs.openSync(path.join(path.dirname(c.dataDir), 'etcd.log'), 'a');
    const args = [
      '--name', c.name, '--data-dir', c.dataDir,
      '--listen-client-urls', this.clientUrl, '--advertise-client-urls', this.clientUrl,
      '--listen-peer-urls', this.peerUrl, '--initial-advertise-peer-urls', this.peerUrl,
      '--initial-cluster', c.initialCluster, '--initial-cluster-state', c.state,
      '--max-txn-ops', '4096', '--heartbeat-interval', '100', '--election-timeout', '1000', '--grpc-keepalive-min-time', '1s',
    ];
    // The member dies with the daemon (a daemon restart starts it again): none is left holding the data or the ports.
    const p = spawn('setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.proc = p;
    p.on('exit', (code, signal) => {
      if (this.stopped || this.proc !== p) return;
      this.restarts++;
      const wait = Math.min(100 * 2 ** Math.min(this.restarts, 6), 5000);
      this.logger.warn('etcd member exited; starting it again', { code, signal, waitMs: wait });
      setTimeout(() => {
        if (!this.stopped) this.spawn(bin);
      }, wait).unref();
    });
  }

  /**
   * Whether the member serves its clients (its version: /health would also
   * want a quorum, which a member restarting alone waits for).
   */
  async answers(): Promise<boolean> {
    try {
      const r = await fetch(`${this.clientUrl}/version`, { signal: AbortSignal.timeout(1000) });
      return r.ok;
    } catch {
      // Not listening yet (or gone): the caller waits or reports.
      return false;
    }
  }

  /** Stops the member (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    this.stopped = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}
