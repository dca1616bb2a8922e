import { invalidArgument } from '../base/errors';
import { isDigest } from './digest';

/**
 * An image reference, normalised as docker does:
 * `busybox` is `docker.io/library/busybox:latest`.
 */
export interface Reference {
  domain: string;
  path: string; // e.g. library/busybox
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

function bad(s: string, why?: string): never {
  throw invalidArgument(`invalid reference format${why ? `: ${why}` : ''}: ${JSON.stringify(s)}`);
}

/** Parses a reference; with `defaultTag`, a name without tag or digest gets `:latest`. */
export function parseReference(s: string, opts: { defaultTag?: boolean } = { defaultTag: true }): Reference {
  if (!s || s.length > 255 + 128 + 72) bad(s);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) bad(s, 'invalid digest');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(s);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0];
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = parts.shift()!;
    if (!DOMAIN.test(domain)) bad(s);
  }
  if (parts.some((p) => p !== p.toLowerCase())) bad(s, 'repository name must be lowercase');
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) bad(s);
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  const path = parts.join('/');
  if (path.length > 255) bad(s, 'repository name must not be more than 255 characters');
  if (!tag && !digest && opts.defaultTag !== false) tag = 'latest';
  return { domain, path, tag, digest };
}

/** `docker.io/library/busybox` */
export const repositoryName = (r: Reference) => `${r.domain}/${r.path}`;

/** The fully qualified string: `docker.io/library/busybox:latest`. */
export function formatReference(r: Reference): string {
  return repositoryName(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** The short form docker shows: `busybox`, `user/app`, `localhost:5000/x`. */
export function familiarRepository(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryName(r);
  return r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
}

export function familiarString(r: Reference): string {
  return familiarRepository(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** Normalises a user's string to the canonical form used as a key in the store. */
export const normalize = (s: string) => formatReference(parseReference(s));
