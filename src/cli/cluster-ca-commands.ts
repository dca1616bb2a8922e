import * as fs from 'node:fs';
import { parseGoDuration } from '../base/duration';
import { invalidArgument } from '../base/errors';
import type { ApiClient } from '../client/client';
import { type Command, f, write } from './command';
import { bool, type Parsed, str } from './flags';

interface TlsInfo { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string }
interface CaSwarm { Version: { Index: number }; Spec: { CAConfig: Record<string, unknown> }; TLSInfo: TlsInfo; RootRotationInProgress: boolean }

/** `--cert-expiry` (a Go duration, as docker's) in nanoseconds. */
function certExpiry(p: Parsed): number | undefined {
  const given = str(p, 'cert-expiry');
  if (given === undefined) return undefined;
  const ns = parseGoDuration(given);
  if (ns === undefined) throw invalidArgument(`invalid argument "${given}" for "--cert-expiry" flag: a duration such as 2160h0m0s`);
  return ns;
}

const readPem = (file: string) => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`cannot read ${file}: ${(e as Error).message}`);
  }
};

/**
 * How far a rotation is, as docker's `swarm ca --rotate` shows it: nodes
 * whose certificate the wanted CA signed, nodes that trust the root alone.
 */
async function rotationProgress(api: ApiClient): Promise<{ line: string; done: boolean; root: string }> {
  const [s, nodes] = await Promise.all([api.json<CaSwarm>('GET', '/swarm'), api.json<{ Description: { TLSInfo: TlsInfo } }[]>('GET', '/nodes')]);
  const want = s.TLSInfo;
  const certs = nodes.filter((n) => n.Description.TLSInfo.CertIssuerPublicKey === want.CertIssuerPublicKey && n.Description.TLSInfo.CertIssuerSubject === want.CertIssuerSubject).length;
  const roots = s.RootRotationInProgress ? 0 : nodes.filter((n) => n.Description.TLSInfo.TrustRoot === want.TrustRoot).length;
  return { line: `rotated TLS certificates: ${certs}/${nodes.length} nodes, rotated CA certificates: ${roots}/${nodes.length} nodes`, done: !s.RootRotationInProgress && certs === nodes.length && roots === nodes.length, root: want.TrustRoot };
}

export const caCommands: Record<string, Command> = {
  ca: {
    flags: [f('rotate'), f('detach', 'bool', 'd'), f('quiet', 'bool', 'q'), f('cert-expiry', 'string'), f('ca-cert', 'string'), f('ca-key', 'string')],
    maxArgs: 0,
    usage: 'cluster ca [--rotate [-d] [-q] [--cert-expiry DURATION] [--ca-cert FILE --ca-key FILE]]',
    run: async (api, p) => {
      const s = await api.json<CaSwarm>('GET', '/swarm');
      if (!bool(p, 'rotate')) {
        for (const flag of ['ca-cert', 'ca-key', 'cert-expiry']) if (str(p, flag) !== undefined) throw invalidArgument(`\`--${flag}\` flag requires the \`--rotate\` flag to update the CA`);
        if (!s.TLSInfo.TrustRoot) throw invalidArgument('No CA information available');
        return void write(`${s.TLSInfo.TrustRoot.trim()}\n`);
      }
      const [cert, key] = [str(p, 'ca-cert'), str(p, 'ca-key')];
      if ((cert === undefined) !== (key === undefined)) throw invalidArgument('the --ca-cert flag requires that a --ca-key flag be provided as well');
      const ca = { ...s.Spec.CAConfig };
      const expiry = certExpiry(p);
      if (expiry !== undefined) ca.NodeCertExpiry = expiry;
      if (cert && key) Object.assign(ca, { SigningCACert: readPem(cert), SigningCAKey: readPem(key) });
      else ca.ForceRotate = Number(ca.ForceRotate ?? 0) + 1;
      await api.call('POST', '/swarm/update', { query: { version: s.Version.Index }, body: { ...s.Spec, CAConfig: ca } });
      if (bool(p, 'detach')) return;
      let last = '';
      for (;;) {
        const now = await rotationProgress(api);
        if (!bool(p, 'quiet') && now.line !== last) process.stderr.write(`${now.line}\n`);
        last = now.line;
        if (now.done) return void write(`${now.root.trim()}\n`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  },
};

/** `cluster update --cert-expiry`: the CAConfig part of a swarm update body. */
export function caUpdate(p: Parsed, spec: { CAConfig?: Record<string, unknown> }): { CAConfig: Record<string, unknown> } | undefined {
  const expiry = certExpiry(p);
  return expiry === undefined ? undefined : { CAConfig: { ...spec.CAConfig, NodeCertExpiry: expiry } };
}
