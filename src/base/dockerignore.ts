import ignore from '@balena/dockerignore';

/** docker's .dockerignore lines: comments and blank lines dropped. */
export function ignorePatterns(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * A matcher of context paths (relative, `/`-separated) against
 * .dockerignore patterns, with docker's rules (`**`, `!` exceptions, the
 * last match wins, a folder's match covers what it holds).
 */
export function ignoreMatcher(patterns: string[]): (rel: string) => boolean {
  const ig = ignore().add(patterns);
  return (rel) => ig.ignores(rel);
}
