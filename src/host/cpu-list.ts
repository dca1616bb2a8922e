/**
 * Lists of CPUs or memory nodes as the kernel writes them (`0-3,5`, as in
 * cpuset.cpus). Numbers above `max` are refused before any set is built, so
 * `0-9223372036854775807` cannot exhaust memory (docker's CVE-2018-20699).
 */
export function parseCpuList(s: string, max = 8192): Set<number> | undefined {
  const out = new Set<number>();
  if (s.trim() === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b > max) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

/** Every member of `requested` is in `available`. */
export function cpuListWithin(requested: Set<number>, available: Set<number>): boolean {
  for (const n of requested) if (!available.has(n)) return false;
  return true;
}
