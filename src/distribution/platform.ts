import { invalidArgument, notFound } from '../base/errors';
import type { Descriptor, Index, Platform } from '../oci/image';

/** Parses `os/arch[/variant]` (docker's --platform). */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split('/');
  if (!os || !architecture || extra !== undefined) throw invalidArgument(`invalid platform ${JSON.stringify(s)}: want os/arch[/variant]`);
  return { os, architecture: architecture === 'x86_64' ? 'amd64' : architecture === 'aarch64' ? 'arm64' : architecture, ...(variant ? { variant } : {}) };
}

/** The manifest of an index for a platform (a variant asked for must match; none asked takes the first of that os/arch). */
export function choosePlatform(index: Index, want: Platform): Descriptor {
  const fits = index.manifests.filter((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture && (!want.variant || m.platform?.variant === want.variant));
  if (!fits.length) {
    const have = index.manifests.map((m) => (m.platform ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/') : 'unknown')).join(', ');
    throw notFound(`no matching manifest for ${[want.os, want.architecture, want.variant].filter(Boolean).join('/')} in the manifest list entries (it has: ${have})`);
  }
  return fits[0];
}
