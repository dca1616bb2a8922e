import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { atomicWrite } from '../base/files';

/** Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf; returns their paths. */
export async function writeEtcFiles(
  dir: string,
  o: {
    hostname: string; domainname?: string; hostNetwork: boolean; extraHosts?: string[]; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[];
    /** The container's address on its first network, and that network's DNS server (user networks). */
    ip?: string; nameserver?: string;
  },
): Promise<{ hostname: string; hosts: string; resolv: string }> {
  const files = { hostname: path.join(dir, 'hostname'), hosts: path.join(dir, 'hosts'), resolv: path.join(dir, 'resolv.conf') };
  const fqdn = o.domainname ? `${o.hostname}.${o.domainname}` : o.hostname;
  await atomicWrite(files.hostname, `${o.hostname}\n`);

  let hosts: string;
  if (o.hostNetwork) {
    hosts = await fsp.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
  } else {
    hosts = [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      `${o.ip ?? '127.0.1.1'}\t${fqdn === o.hostname ? o.hostname : `${fqdn} ${o.hostname}`}`,
      '',
    ].join('\n');
  }
  for (const h of o.extraHosts ?? []) {
    const i = h.indexOf(':');
    if (i > 0) hosts += `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
  }
  await atomicWrite(files.hosts, hosts);

  await atomicWrite(files.resolv, await resolvConf(o));
  return files;
}

type ResolvOptions = { hostNetwork: boolean; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[]; nameserver?: string };

/** A container's resolv.conf: its --dns flags, else the host's, else its user network's DNS server. */
export async function resolvConf(o: ResolvOptions): Promise<string> {
  const host = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (o.dns?.length || o.dnsSearch?.length || o.dnsOptions?.length) {
    return [
      ...(o.dns ?? []).map((d) => `nameserver ${d}`),
      ...(o.dnsSearch?.length ? [`search ${o.dnsSearch.join(' ')}`] : []),
      ...(o.dnsOptions?.length ? [`options ${o.dnsOptions.join(' ')}`] : []),
      '',
    ].join('\n');
  }
  if (o.hostNetwork) return host;
  // The network's DNS server answers for containers and forwards the rest to the host's resolvers.
  if (o.nameserver) return [`nameserver ${o.nameserver}`, ...host.split('\n').filter((l) => /^\s*(search|options)\s/.test(l)), ''].join('\n');
  // A loopback resolver of the host is unreachable from another network namespace.
  return host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
}

/**
 * A running container's resolv.conf pointed at a user network's DNS server
 * (it joined its first one): written in place, since the file is bind-mounted
 * and a rename would leave the container the old one. --dns flags stay.
 */
export async function useNetworkResolver(dir: string, o: Omit<ResolvOptions, 'nameserver' | 'hostNetwork'>, nameserver: string): Promise<void> {
  if (o.dns?.length || o.dnsSearch?.length || o.dnsOptions?.length) return;
  await fsp.writeFile(path.join(dir, 'resolv.conf'), await resolvConf({ ...o, hostNetwork: false, nameserver }));
}
