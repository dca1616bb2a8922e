import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { ApiClient } from '../client/client';
import { type GrantFile, grantFiles } from './create-body';
import type { Project, Service } from './spec/model';

/** A tar of secrets' and configs' files, with the folders above them, for the archive endpoint. */
async function tarOf(files: GrantFile[]): Promise<Readable> {
  const pack = tar.pack();
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) pack.entry({ name: `${d}/`, type: 'directory', mode: 0o755 });
      dirs.add(d);
    }
    pack.entry({ name: parts.join('/'), mode: f.mode, uid: f.uid, gid: f.gid }, f.content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Readable.from([Buffer.concat(chunks)]);
}

/** Writes a created container's secrets and configs that have content (inline, or from a variable) before it starts. */
export async function placeGrants(api: ApiClient, id: string, p: Project, s: Service): Promise<void> {
  const files = grantFiles(p, s);
  // The archive's owners are kept (copyUIDGID): the uid and gid asked for, else root.
  if (files.length) await api.call('PUT', `/containers/${id}/archive`, { query: { path: '/', copyUIDGID: true }, stream: await tarOf(files) });
}
