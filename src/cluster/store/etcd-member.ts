import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { unavailable } from '../../base/errors';
import type { Logger } from '../../base/log';
import { which } from '../../base/which';
import { certDigest, pemCerts } from '../tls/cert-info';
import { readCredentials, tlsFiles, trustFile } from '../tls/pki';

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
  /** The node's certificates (tls/pki.ts): clients and peers speak TLS and must show a certificate of the cluster's CA. */
  tlsDir?: string;
}

/** Where the member's peers reach it. */
export function peerUrlOf(c: MemberConfig): string {
  return `${c.tlsDir ? 'https' : 'http'}://${c.host}:${c.peerPort}`;
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

/** Whether `port` can be listened on at `host` now. */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
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
  /** The roots (certDigest) it was started with. */
  trusts?: string[];
  private restarts = 0;

  constructor(
    readonly cfg: MemberConfig,
    private readonly logger: Logger,
  ) {}

  get clientUrl(): string {
    return `${this.cfg.tlsDir ? 'https' : 'http'}://${this.cfg.host}:${this.cfg.clientPort}`;
  }

  get peerUrl(): string {
    return peerUrlOf(this.cfg);
  }

  /** etcd's flags for mutual TLS, clients and peers alike, with the node's certificate. */
  private tlsArgs(): string[] {
    if (!this.cfg.tlsDir) return [];
    const f = tlsFiles(this.cfg.tlsDir);
    const trust = trustFile(this.cfg.tlsDir);
    return [
      '--cert-file', f.cert, '--key-file', f.key, '--client-cert-auth', '--trusted-ca-file', trust,
      '--peer-cert-file', f.cert, '--peer-key-file', f.key, '--peer-client-cert-auth', '--peer-trusted-ca-file', trust,
    ];
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
      ...this.tlsArgs(),
    ];
    // The member dies with the daemon (a daemon restart starts it again): none is left holding the data or the ports.
    // etcd reads its trusted roots once, at its start (its own certificate at each handshake): kept to say which.
    this.trusts = c.tlsDir ? pemCerts(fs.readFileSync(trustFile(c.tlsDir))).map(certDigest) : undefined;
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
   * Whether the member serves its clients (its version), or with `/health`
   * whether it is in the store's quorum too (which a member restarting
   * alone waits for).
   */
  answers(what: '/version' | '/health' = '/version'): Promise<boolean> {
    const tls = this.cfg.tlsDir ? readCredentials(this.cfg.tlsDir) : undefined;
    return new Promise((resolve) => {
      const req = (tls ? https : http).get(`${this.clientUrl}${what}`, { ...tls, agent: false, timeout: 1000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        // /health says {"health":"true"} only with a leader (a member in the quorum).
        res.on('end', () => resolve(res.statusCode === 200 && (what === '/version' || /"health":\s*"true"/.test(Buffer.concat(chunks).toString()))));
      });
      // Not listening yet (or gone): the caller waits or reports.
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  /** Started again, with the roots the node trusts now; resolves once it is back in the store's quorum (or after 15 s). */
  async restart(): Promise<void> {
    await this.stop();
    this.stopped = false;
    await this.start();
    for (const until = Date.now() + 15_000; Date.now() < until && !(await this.answers('/health')); ) await new Promise((r) => setTimeout(r, 200));
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
