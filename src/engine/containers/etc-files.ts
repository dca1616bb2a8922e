import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isErrno } from '../../base/errors';
import { atomicWrite, lstatIfExists } from '../../base/files';

/** Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf; returns their paths. */
export async function writeEtcFiles(
  dir: string,
  o: {
    hostname: string; domainname?: string; hostNetwork: boolean; extraHosts?: string[]; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[];
    /** Legacy links: `ip alias id name` lines, as docker writes them. */
    links?: { ip: string; names: string[] }[];
    /** The container's address on its first network, and that network's DNS server (user networks). */
    ip?: string; nameserver?: string;
    /** Its IPv6 address there, on a dual-stack network. */
    ip6?: string;
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
      ...(o.ip6 ? [`${o.ip6}\t${fqdn === o.hostname ? o.hostname : `${fqdn} ${o.hostname}`}`] : []),
      '',
    ].join('\n');
  }
  for (const l of o.links ?? []) hosts += `${l.ip}\t${l.names.join(' ')}\n`;
  for (const h of o.extraHosts ?? []) {
    const i = h.indexOf(':');
    if (i > 0) hosts += `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
  }
  await atomicWrite(files.hosts, hosts);

  await atomicWrite(files.resolv, resolvConf(o, await hostResolvConf()));
  return files;
}

type ResolvOptions = { hostNetwork: boolean; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[]; nameserver?: string };

/**
 * A container's resolv.conf. On a user network: the network's DNS server (its
 * --dns servers become that server's upstreams for the container, as with
 * docker's embedded DNS), with the search and options of the flags or else
 * the host's. Elsewhere: the --dns flags, else the host's file.
 */
export function resolvConf(o: ResolvOptions, host: string): string {
  const hostLines = (key: string) => host.split('\n').filter((l) => new RegExp(`^\\s*${key}\\s`).test(l));
  const search = o.dnsSearch?.length ? [`search ${o.dnsSearch.join(' ')}`] : undefined;
  const options = o.dnsOptions?.length ? [`options ${o.dnsOptions.join(' ')}`] : undefined;
  if (o.nameserver && !o.hostNetwork) {
    return [`nameserver ${o.nameserver}`, ...(search ?? hostLines('search')), ...(options ?? hostLines('options')), ''].join('\n');
  }
  if (o.dns?.length || search || options) return [...(o.dns ?? []).map((d) => `nameserver ${d}`), ...(search ?? []), ...(options ?? []), ''].join('\n');
  if (o.hostNetwork) return host;
  // A loopback resolver of the host is unreachable from another network namespace.
  return host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
}

/**
 * A running container's resolv.conf pointed at a user network's DNS server
 * (it joined its first one): written in place, since the file is bind-mounted
 * and a rename would leave the container the old one.
 */
export async function useNetworkResolver(dir: string, o: Omit<ResolvOptions, 'nameserver' | 'hostNetwork'>, nameserver: string): Promise<void> {
  await fsp.writeFile(path.join(dir, 'resolv.conf'), resolvConf({ ...o, hostNetwork: false, nameserver }, await hostResolvConf()));
}

function hostResolvConf(): Promise<string> {
  return fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
}

/**
 * docker's init layer, in the container's own upper folder: empty
 * /etc/hosts, /etc/hostname and /etc/resolv.conf, so a container that never
 * ran shows them (cp, export) as dockerd's does. The runtime binds the real
 * ones over them at start; diff and commit leave them out.
 */
export async function writePlaceholders(upper: string, lowers: string[]): Promise<void> {
  for (const l of lowers) {
    const st = await lstatIfExists(path.join(l, 'etc'));
    if (st) {
      if (!st.isDirectory()) return; // an image whose /etc is a link or a file keeps it as it is
      break;
    }
  }
  await fsp.mkdir(path.join(upper, 'etc'), { recursive: true });
  for (const f of ['hosts', 'hostname', 'resolv.conf']) {
    await fsp.writeFile(path.join(upper, 'etc', f), '', { flag: 'wx' }).catch((e) => {
      if (!isErrno(e, 'EEXIST')) throw e;
    });
  }
}
