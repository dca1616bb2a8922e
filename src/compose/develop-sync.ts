import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { invalidArgument } from '../base/errors';
import { type ApiClient, demux } from '../client/client';
import type { PathMapping } from './develop';

/** One entry of a sync's tar: a host path and its place in the container. */
interface Entry {
  host: string;
  target: string;
  st: fs.Stats;
}

/**
 * What a batch copies: the changed paths that exist (a folder with what it
 * holds that its rule does not ignore), and the container paths of those
 * gone from the host, to remove.
 */
export function entriesOf(files: PathMapping[]): { copy: Entry[]; remove: string[] } {
  const copy: Entry[] = [];
  const remove: string[] = [];
  const walk = (m: PathMapping) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(m.hostPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return void remove.push(m.containerPath!);
      throw e;
    }
    copy.push({ host: m.hostPath, target: m.containerPath!, st });
    if (!st.isDirectory()) return;
    for (const name of fs.readdirSync(m.hostPath).sort()) {
      const inner = m.rule.matches(path.join(m.hostPath, name));
      if (inner) walk(inner);
    }
  };
  for (const m of files) walk(m);
  return { copy, remove };
}

/** A tar of the entries at their container paths, with the host's modes and owners (kept by the copy, as docker compose keeps them). */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const header = { name: e.target.replace(/^\/+/, ''), mode: e.st.mode & 0o7777, uid: e.st.uid, gid: e.st.gid, mtime: e.st.mtime };
    if (e.st.isDirectory()) pack.entry({ ...header, type: 'directory' });
    else if (e.st.isSymbolicLink()) pack.entry({ ...header, type: 'symlink', linkname: fs.readlinkSync(e.host) });
    else if (e.st.isFile()) pack.entry(header, fs.readFileSync(e.host));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Runs a command in a container to its end; its output and exit code. */
export async function execIn(api: ApiClient, id: string, cmd: string[], o: { user?: string; privileged?: boolean; workdir?: string; env?: string[] } = {}): Promise<{ code: number; output: string }> {
  const { Id } = await api.json<{ Id: string }>('POST', `/containers/${id}/exec`, {
    body: { Cmd: cmd, AttachStdout: true, AttachStderr: true, User: o.user, Privileged: o.privileged, WorkingDir: o.workdir, Env: o.env },
  });
  const conn = await api.upgrade(`/exec/${Id}/start`, { body: { Detach: false, Tty: false } });
  let output = '';
  for await (const fr of demux(conn as AsyncIterable<Buffer>)) output += fr.data.toString();
  const r = await api.json<{ ExitCode: number | null }>('GET', `/exec/${Id}/json`);
  return { code: r.ExitCode ?? -1, output };
}

/**
 * Brings the containers in line with the changed paths: removes what is gone
 * (`rm -rf` in the container, as docker compose does), then copies in what
 * changed, owners kept. Returns how many paths were copied and removed.
 */
export async function syncInto(api: ApiClient, containers: string[], files: PathMapping[]): Promise<{ copied: number; removed: number }> {
  const { copy, remove } = entriesOf(files);
  const archive = copy.length ? await tarOf(copy) : undefined;
  await Promise.all(containers.map(async (id) => {
    if (remove.length) {
      const r = await execIn(api, id, ['rm', '-rf', ...remove]);
      if (r.code !== 0) throw invalidArgument(`removing ${remove.join(' ')} in ${id.slice(0, 12)}: ${r.output.trim() || `exit ${r.code}`}`);
    }
    if (archive) await api.call('PUT', `/containers/${id}/archive`, { query: { path: '/', copyUIDGID: true }, stream: Readable.from([archive]) });
  }));
  return { copied: copy.length, removed: remove.length };
}
