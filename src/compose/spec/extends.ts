import * as path from 'node:path';
import { invalidArgument } from '../../base/errors';
import { mergeService } from './merge';
import type { ComposeFile, Service } from './model';

/**
 * Resolves every `extends` of a file: the base service (of this file, or of
 * another read against its own directory) with this service's fields merged
 * over it by compose's merge rules; chains followed, cycles reported.
 */
export function resolveExtends(f: ComposeFile, read: (file: string) => ComposeFile): ComposeFile {
  const cache = new Map<string, ComposeFile>([[f.file, f]]);
  const done = new Map<string, Service>();
  const resolve = (file: ComposeFile, name: string, chain: string[]): Service => {
    const key = `${file.file}#${name}`;
    const known = done.get(key);
    if (known) return known;
    if (chain.includes(key)) throw invalidArgument(`circular reference with extends: ${[...chain, key].map((k) => k.split('#')[1]).join(' -> ')}`);
    const s = file.services[name];
    if (!s) throw invalidArgument(`cannot extend service "${name}" in ${file.file}: service not found`);
    if (!s.extends) return s;
    let from = file;
    if (s.extends.file) {
      const p = path.resolve(path.dirname(file.file), s.extends.file);
      from = cache.get(p) ?? read(p);
      cache.set(p, from);
    }
    const base = resolve(from, s.extends.service, [...chain, key]);
    const { extends: _ignored, ...own } = s;
    const out = mergeService({ ...base, name }, own as Service);
    done.set(key, out);
    return out;
  };
  return { ...f, services: Object.fromEntries(Object.keys(f.services).map((n) => [n, resolve(f, n, [])])) };
}
