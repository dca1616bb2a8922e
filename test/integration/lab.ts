import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { freeTestPrefix, TestDaemon } from './harness';

/** One node of a lab: a daemon in a network namespace of its own, on the lab's link. */
export interface LabHost {
  name: string;
  netns: string;
  /** The root side of its link (down = cut off). */
  link: string;
  ip: string;
}

export interface LabNode extends LabHost {
  daemon: TestDaemon;
}

function sh(cmd: string, ...args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/**
 * A cluster lab on this host (what `berth lab` will offer): N daemons, each
 * in a network namespace with its own roots, cgroup parent and name, all on
 * one bridge of the lab's own (a /24 in a free /16). A node is killed as a
 * crash (daemon SIGKILLed, its link down; its containers stay, as on a
 * machine cut off) and revived (link up, daemon started again).
 */
export class Lab {
  readonly tag = randomBytes(3).toString('hex');
  readonly bridge = `lab${this.tag}`;
  readonly prefix = freeTestPrefix();
  readonly nodes: LabNode[] = [];
  private readonly made: LabHost[] = [];
  // Registries on the lab's link (a test's, on the host's end of it) speak plain HTTP.
  private readonly extra = ['--proc-view', 'host', '--insecure-registry', `${this.prefix}.77.0/24`];

  get gateway(): string {
    return `${this.prefix}.77.1`;
  }

  /** The lab's network alone: the bridge, and n namespaces on it (for any daemon: Berth's, or a reference dockerd). */
  hosts(n: number): LabHost[] {
    sh('ip', 'link', 'add', this.bridge, 'type', 'bridge');
    sh('ip', 'addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    sh('ip', 'link', 'set', this.bridge, 'up');
    const out: LabHost[] = [];
    for (let i = 1; i <= n; i++) {
      const name = `node${i}`;
      const netns = `lab${this.tag}-${name}`;
      const link = `l${this.tag}n${i}`;
      const ip = `${this.prefix}.77.${10 + i}`;
      sh('ip', 'netns', 'add', netns);
      sh('ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
      sh('ip', 'link', 'set', link, 'master', this.bridge, 'up');
      sh('ip', '-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      sh('ip', '-n', netns, 'link', 'set', 'eth0', 'up');
      sh('ip', '-n', netns, 'link', 'set', 'lo', 'up');
      out.push({ name, netns, link, ip });
    }
    this.made.push(...out);
    return out;
  }

  /** Cuts a host off (its link down), or joins it again. */
  cut(h: LabHost, off: boolean): void {
    sh('ip', 'link', 'set', h.link, off ? 'down' : 'up');
  }

  /** n Berth daemons, one per namespace, busybox imported. */
  async up(n: number): Promise<void> {
    for (const h of this.hosts(n)) {
      const daemon = new TestDaemon();
      daemon.netns = h.netns;
      this.nodes.push({ ...h, daemon });
    }
    await Promise.all(this.nodes.map(async (node) => {
      await node.daemon.start([...this.extra, '--node-name', node.name]);
      await node.daemon.importBusybox();
    }));
  }

  /** A crash: the daemon SIGKILLed and the node cut off. */
  async kill(node: LabNode): Promise<void> {
    this.cut(node, true);
    await node.daemon.kill();
  }

  async revive(node: LabNode): Promise<void> {
    this.cut(node, false);
    await this.start(node);
  }

  /** Starts a node's daemon (again) with the lab's options. */
  start(node: LabNode): Promise<void> {
    return node.daemon.start([...this.extra, '--node-name', node.name]);
  }

  /** Every daemon cleaned up (a killed one is started again first, so it removes what it ran), every namespace and link removed. */
  async down(): Promise<void> {
    for (const node of this.nodes) {
      spawnSync('ip', ['link', 'set', node.link, 'up']);
      if (!node.daemon.pid) await node.daemon.start([...this.extra, '--node-name', node.name], 120_000).catch((e) => console.error(`lab: ${node.name} did not start again to clean up: ${e}`));
      await node.daemon.cleanup();
    }
    for (const h of this.made) {
      spawnSync('ip', ['link', 'del', h.link]);
      spawnSync('ip', ['netns', 'del', h.netns]);
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}

/**
 * A TCP proxy on `host` (the lab's end of its link) to a server on this
 * host's loopback, counting the bytes the server sends back: what a
 * registry served the lab's nodes.
 */
export async function countingProxy(host: string, targetPort: number): Promise<{ port: number; served: () => number; reset: () => void; close: () => Promise<void> }> {
  let served = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => [client, upstream].forEach((x) => x.destroy())); // either end gone: both go
    }
    upstream.on('data', (b: Buffer) => (served += b.length));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    served: () => served,
    reset: () => void (served = 0),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** The docker CLI against a lab node, expecting success; its trimmed output. */
export async function dockerOn(node: LabNode, args: string[]): Promise<string> {
  const r = await node.daemon.docker(args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${node.name}: docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** A service's running tasks per node name, as a manager lists them. */
export async function spreadOf(manager: LabNode, service: string): Promise<Record<string, number>> {
  const lines = (await dockerOn(manager, ['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}', service])).split('\n').filter(Boolean);
  const out: Record<string, number> = {};
  for (const l of lines) {
    const [node, ...state] = l.split(' ');
    if (state[0] === 'Running') out[node] = (out[node] ?? 0) + 1;
  }
  return out;
}

export const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);

/** Task containers running on a node (by its own daemon's word). */
export async function taskContainers(node: LabNode, service?: string): Promise<string[]> {
  const filter = service ? `label=com.docker.swarm.service.name=${service}` : 'label=com.docker.swarm.task.id';
  return (await dockerOn(node, ['ps', '-q', '--filter', filter])).split('\n').filter(Boolean);
}
