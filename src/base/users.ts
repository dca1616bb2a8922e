import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { invalidArgument, isErrno } from './errors';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const f = l.split(':');
    return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
  }).filter((e) => Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const f = l.split(':');
    return { name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) };
  }).filter((e) => Number.isInteger(e.gid));
}

/**
 * Resolves docker's `--user` forms (`name`, `uid`, `name:group`, `uid:gid`)
 * against the container's /etc/passwd and /etc/group, as docker does:
 * numeric ids need no entry; names must exist.
 */
export function resolveUser(spec: string, passwd: PasswdEntry[], groups: GroupEntry[], groupAdd: string[] = []): ResolvedUser {
  const [userPart, groupPart] = (spec || '0').split(':', 2);
  const isNum = (s: string) => /^\d+$/.test(s);
  let uid: number;
  let gid: number;
  let home = '/';
  let name: string | undefined;
  const byName = passwd.find((p) => p.name === userPart);
  const byUid = isNum(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : undefined;
  if (isNum(userPart)) {
    uid = Number(userPart);
    gid = byUid?.gid ?? 0;
    home = byUid?.home ?? '/';
    name = byUid?.name;
  } else if (byName) {
    uid = byName.uid;
    gid = byName.gid;
    home = byName.home;
    name = byName.name;
  } else {
    throw invalidArgument(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (groupPart !== undefined && groupPart !== '') gid = lookupGroup(groupPart, groups);
  const additional = new Set<number>();
  if (name) for (const g of groups) if (g.members.includes(name) && g.gid !== gid) additional.add(g.gid);
  for (const g of groupAdd) additional.add(lookupGroup(g, groups));
  return { uid, gid, additionalGids: [...additional], home };
}

function lookupGroup(g: string, groups: GroupEntry[]): number {
  if (/^\d+$/.test(g)) return Number(g);
  const e = groups.find((x) => x.name === g);
  if (!e) throw invalidArgument(`unable to find group ${g}: no matching entries in group file`);
  return e.gid;
}

/** Reads /etc/passwd and /etc/group of a mounted root filesystem (absent files are empty). */
export async function readUserDb(rootfs: string): Promise<{ passwd: PasswdEntry[]; groups: GroupEntry[] }> {
  const read = async (f: string) => {
    try {
      // Inside the container root: a symlinked /etc/passwd must not lead to the host's.
      const st = await fsp.lstat(path.join(rootfs, f));
      if (!st.isFile()) return '';
      return await fsp.readFile(path.join(rootfs, f), 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return '';
      throw e;
    }
  };
  return { passwd: parsePasswd(await read('etc/passwd')), groups: parseGroup(await read('etc/group')) };
}
