import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { hostProcesses, mountPoints } from '../src/base/procs';

/**
 * What the host shows of containers: mounts, cgroup folders, processes.
 * Shared by the integration tests' leak checks and the benchmarks' cleanup.
 */

export function mountsUnder(dir: string): string[] {
  return mountPoints().filter((m) => m.startsWith(dir));
}

/** The cgroup folders at `parent` and below, in every hierarchy (v1) or the one (v2); parents first. */
export function cgroupDirs(parent: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    out.push(d);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  for (const base of ['/sys/fs/cgroup', ...fs.readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c))]) {
    const dir = path.join(base, parent);
    if (fs.existsSync(dir) && !out.includes(dir)) walk(dir);
  }
  return out;
}

export interface HostProcess {
  pid: number;
  comm: string;
  /** The argv joined by spaces. */
  cmdline: string;
}

export function processes(): HostProcess[] {
  return hostProcesses().map((p) => {
    let comm = '';
    try {
      comm = fs.readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim();
    } catch {
      /* gone */
    }
    return { pid: p.pid, comm, cmdline: p.argv.join(' ') };
  });
}

/** Interfaces enslaved to a bridge (the host ends of containers' veths). */
export function bridgePorts(bridge: string): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1].trim().split('@')[0]) : [];
}

export function linkExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;
}

/** A link's alias (a Berth daemon marks its bridges, and its iptables rules, with one of its own). */
export function linkAlias(name: string): string | undefined {
  return links().find((l) => l.ifname === name)?.ifalias;
}

export function bridgesWithAlias(alias: string): string[] {
  return links().filter((l) => l.ifalias === alias).map((l) => l.ifname);
}

function links(): { ifname: string; ifalias?: string }[] {
  return JSON.parse(spawnSync('ip', ['-j', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }).stdout || '[]');
}

/** Local UDP sockets on port 53 held by a process (a Berth daemon's DNS listeners, one per user network's gateway). */
export function dnsListenersOf(pid: number): string[] {
  const out = spawnSync('ss', ['-H', '-u', '-l', '-n', '-p', 'sport', '=', ':53'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => l.trim().split(/\s+/)[3]);
}

/** iptables rules (iptables-save lines, every table) that mention one of the words. */
export function rulesMentioning(words: string[]): string[] {
  return [...rulesIn('iptables-save', words), ...rulesIn('ip6tables-save', words).map((l) => `ip6tables ${l}`)];
}

function rulesIn(save: string, words: string[]): string[] {
  const text = spawnSync(save, [], { encoding: 'utf8' }).stdout ?? '';
  return text.split('\n').filter((l) => l.startsWith('-A ') && words.some((w) => new RegExp(`(^|[\\s"])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\s"]|$)`).test(l)));
}

/** Deletes a bridge and every iptables rule that names it (a test daemon's default bridge outlives the daemon, as docker0 does). */
export function removeBridgeAndRules(bridge: string): void {
  for (const tool of ['iptables', 'ip6tables']) {
    let table = 'filter';
    const text = spawnSync(`${tool}-save`, [], { encoding: 'utf8' }).stdout ?? '';
    const mine = new Set(rulesIn(`${tool}-save`, [bridge]));
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      else if (mine.has(line)) spawnSync('sh', ['-c', `${tool} -w -t ${table} ${line.replace(/^-A /, '-D ')}`]);
    }
  }
  spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
}

/** SIGKILLs the lxcfs a daemon with this exec root started (it outlives the daemon by design: a test's or benchmark's goes with it). */
export function killLxcfsOf(execRoot: string): void {
  for (const p of processes()) if (/(^|\/)lxcfs /.test(p.cmdline) && p.cmdline.includes(execRoot)) spawnSync('kill', ['-9', String(p.pid)]);
}
