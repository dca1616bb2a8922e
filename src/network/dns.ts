import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { atomicWrite } from '../base/files';

/** One container's names on one network. */
export interface DnsRecord {
  id: string;
  ip: string;
  names: string[];
}

/** aardvark-dns's config file of one network: the listening address, then a line per container. */
export function aardvarkConfig(gateway: string, records: DnsRecord[]): string {
  return [gateway, ...records.map((r) => `${r.id} ${r.ip}  ${[...new Set(r.names)].join(',')}`), ''].join('\n');
}

/**
 * Name resolution on user networks, by aardvark-dns (podman's DNS server,
 * a Debian package): one server per daemon listens on each network's
 * gateway, answers for containers on the asker's networks and forwards
 * other names to the host's resolvers. It runs apart from the daemon, so
 * names keep resolving while the daemon restarts; it reloads on SIGHUP and
 * exits by itself when no network is left.
 */
export class DnsServer {
  constructor(
    private readonly binary: string,
    private readonly dir: string,
  ) {}

  private file(network: string): string {
    return path.join(this.dir, network);
  }

  /** Writes (or with no gateway, removes) one network's records, then has the server load them. */
  async set(network: string, gateway: string | undefined, records: DnsRecord[]): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (gateway) await atomicWrite(this.file(network), aardvarkConfig(gateway, records));
    else await fsp.rm(this.file(network), { force: true });
    await this.reload();
  }

  async networks(): Promise<string[]> {
    return (await fsp.readdir(this.dir).catch(() => [])).filter((f) => f !== 'aardvark.pid' && !f.endsWith('.tmp'));
  }

  /** The server's pid if it runs for this folder. */
  pid(): number | undefined {
    try {
      const pid = Number(readFileSync(path.join(this.dir, 'aardvark.pid'), 'utf8'));
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.includes(this.dir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Signals the server to reload, starts it when it is not running, or lets it go when nothing is left. */
  async reload(): Promise<void> {
    const pid = this.pid();
    const want = (await this.networks()).length > 0;
    if (pid) {
      process.kill(pid, want ? 'SIGHUP' : 'SIGTERM');
      return;
    }
    if (!want) return;
    // aardvark forks; the parent exits once the child serves (or failed).
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const p = spawn(this.binary, ['--config', this.dir, '-p', '53', 'run'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      p.stderr!.on('data', (d) => (err += d));
      p.on('error', reject);
      p.on('exit', (code) => {
        // The forked server inherits the pipe: let go of our end.
        p.stderr!.destroy();
        if (code === 0) resolve();
        else reject(new Error(`aardvark-dns failed to start: ${err.trim() || `exit ${code}`}`));
      });
    });
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid) process.kill(pid, 'SIGTERM');
  }
}
