import type { ServiceResult, UpReport } from '../../compose/up';

/** The end of `up`: what failed and why, and what did not start because of it. Returns the exit code. */
export function report(r: UpReport): number {
  const failed = r.results.filter((x) => x.state === 'failed');
  const blocked = r.results.filter((x) => x.state === 'blocked');
  for (const o of r.orphans.length ? [r.orphans] : []) {
    process.stderr.write(`WARN Found orphan containers (${o.join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`);
  }
  if (!failed.length && !blocked.length) return 0;
  const by = new Map<string, ServiceResult[]>();
  for (const b of blocked) by.set(b.blockedBy!, [...(by.get(b.blockedBy!) ?? []), b]);
  for (const x of failed) {
    process.stderr.write(`✘ service "${x.service}" failed: ${x.cause}\n`);
    const kept = by.get(x.service) ?? [];
    if (kept.length) process.stderr.write(`  not started because of it: ${kept.map((k) => k.service).sort().join(', ')}\n`);
    by.delete(x.service);
  }
  // Services kept back by a dependency that started but then failed its condition (unhealthy, exited).
  for (const [dep, kept] of by) {
    process.stderr.write(`✘ service "${dep}" did not meet its condition: ${kept[0].cause}\n  not started because of it: ${kept.map((k) => k.service).sort().join(', ')}\n`);
  }
  const ok = r.results.filter((x) => x.state === 'started' || x.state === 'created').length;
  process.stderr.write(`${ok} of ${r.results.length} services started; 'berth compose down' removes what was made\n`);
  return 1;
}

