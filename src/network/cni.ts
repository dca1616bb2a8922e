import { CommandError, run } from '../base/exec';
import { internal } from '../base/errors';

export const CNI_VERSION = '1.0.0';

/** One plugin's configuration in a list (the CNI spec's network configuration). */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [k: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

/** The CNI result: interfaces and addresses (the spec's 1.0.0 shape). */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
}

/** What the runtime passes for one attachment: which container, where, and the capability arguments. */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  /** Capability name → value (portMappings, bandwidth, ips); given to plugins that declare the capability. */
  capabilityArgs?: Record<string, unknown>;
}

/**
 * Runs CNI plugin chains as the spec says: ADD in order, each given the
 * previous result; DEL in reverse order, each given the cached result.
 * Plugins are found in `pluginDirs` (Debian's containernetworking-plugins
 * installs them in /usr/lib/cni).
 */
export class Cni {
  constructor(private readonly pluginDirs: string[]) {}

  /** ADD of the chain; `prev` feeds its first plugin (to run a chained plugin alone). */
  async add(list: NetConfList, rt: RuntimeConf, prev?: CniResult): Promise<CniResult> {
    for (const p of list.plugins) prev = JSON.parse(await this.exec('ADD', list, p, rt, prev)) as CniResult;
    return prev ?? { cniVersion: list.cniVersion };
  }

  /** Undoes an ADD; plugins tolerate what is already gone, so this is safe to repeat. */
  async del(list: NetConfList, rt: RuntimeConf, cached?: CniResult): Promise<void> {
    let first: unknown;
    for (const p of [...list.plugins].reverse()) {
      await this.exec('DEL', list, p, rt, cached).catch((e) => (first ??= e));
    }
    if (first) throw first;
  }

  private async exec(command: 'ADD' | 'DEL', list: NetConfList, p: PluginConf, rt: RuntimeConf, prev?: CniResult): Promise<string> {
    const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
    const rc: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(p.capabilities ?? {})) if (on && rt.capabilityArgs?.[cap] !== undefined) rc[cap] = rt.capabilityArgs[cap];
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
    if (prev) conf.prevResult = prev;
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_PATH: this.pluginDirs.join(':'),
    };
    const bin = `${this.pluginDirs[0]}/${p.type}`;
    try {
      return (await run(bin, [], { input: JSON.stringify(conf), env, timeoutMs: 60_000 })).stdout;
    } catch (e) {
      // Plugins print a JSON error ({code, msg, details}) on stdout; stderr is mostly empty.
      const out = e instanceof CommandError ? e.stdout || e.stderr : '';
      throw internal(`CNI plugin ${p.type} ${command} failed: ${pluginMessage(out) || (e as Error).message}`, e);
    }
  }
}

function pluginMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { msg?: string; details?: string };
    return [j.msg, j.details].filter(Boolean).join(': ');
  } catch {
    return text.trim();
  }
}
