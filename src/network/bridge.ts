import { CommandError, run } from '../base/exec';

/**
 * The Linux bridge of a network, made when the network is made (not at its
 * first container) so that its subnet shows in the host's routes at once and
 * the DNS server can listen on its gateway. CNI's bridge plugin adopts it.
 */
export async function ensureBridge(name: string, gatewayCidr: string): Promise<void> {
  await run('ip', ['link', 'add', name, 'type', 'bridge']).catch((e) => {
    if (!(e instanceof CommandError && /File exists/.test(e.stderr))) throw e;
  });
  await run('ip', ['addr', 'replace', gatewayCidr, 'dev', name]);
  await run('ip', ['link', 'set', name, 'up']);
}

export async function removeBridge(name: string): Promise<void> {
  await run('ip', ['link', 'del', name]).catch((e) => {
    if (!(e instanceof CommandError && /Cannot find device|does not exist/.test(e.stderr))) throw e;
  });
}

export async function linkExists(name: string): Promise<boolean> {
  return run('ip', ['link', 'show', name]).then(
    () => true,
    () => false,
  );
}

/** The host's IPv4 routes, as `ip -4 route` prints them (for choosing free subnets). */
export async function hostRoutes(): Promise<string> {
  return (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout;
}

/** Removes an interface's root and ingress qdiscs (what CNI's bandwidth plugin puts on a host veth). */
export async function clearQdiscs(dev: string): Promise<void> {
  for (const which of ['root', 'ingress']) await run('tc', ['qdisc', 'del', 'dev', dev, which]).catch(() => {});
}
