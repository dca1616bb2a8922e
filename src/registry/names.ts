import { regErr } from './errors';

// The spec's grammar: path components of lowercase alphanumerics joined by
// one '.', one or two '_', or any number of '-'. A component never starts
// with '.', '_' or '-', so a name can never climb out of its folder nor meet
// the registry's own `_`-prefixed folders.
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME = 255;

export function checkName(name: string): string {
  if (name.length > MAX_NAME || !NAME_RE.test(name)) throw regErr('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export const isTag = (s: string) => TAG_RE.test(s);

/** Matches an access rule's repository pattern: `*` within one path component, `**` across them. */
export function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${re}$`).test(name);
}
