import type { Progress, ProgressEvent } from '../../compose/progress';

type State = 'pending' | 'waiting' | 'starting' | 'started' | 'failed' | 'blocked';

/** One line per wave: how many of its services stand where, and its time from its first start to its last. */
export function waveLines(waves: string[][], state: Map<string, State>, times: Map<string, { start?: number; end?: number }>, now: number, color: boolean): string[] {
  const red = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s);
  const green = (s: string) => (color ? `\x1b[32m${s}\x1b[0m` : s);
  return waves.map((w, i) => {
    const count = (k: State) => w.filter((n) => state.get(n) === k).length;
    const started = count('started');
    const failed = w.filter((n) => state.get(n) === 'failed');
    const blocked = count('blocked');
    const busy = count('starting');
    const waiting = count('waiting');
    const starts = w.map((n) => times.get(n)?.start).filter((t): t is number => t !== undefined);
    const ends = w.map((n) => times.get(n)?.end).filter((t): t is number => t !== undefined);
    const done = started + failed.length + blocked === w.length;
    const took = starts.length ? `${(((done ? Math.max(...ends) : now) - Math.min(...starts)) / 1000).toFixed(1)}s` : '';
    const mark = !done ? '▸' : failed.length || blocked ? red('✘') : green('✔');
    const parts = [`${started}/${w.length} started`];
    if (busy) parts.push(`${busy} starting`);
    if (waiting) parts.push(`${waiting} waiting`);
    if (failed.length) parts.push(red(`${failed.length} failed (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', …' : ''})`));
    if (blocked) parts.push(red(`${blocked} kept back`));
    return ` ${mark} wave ${String(i + 1).padStart(2)}  ${parts.join(', ')}  ${took}`;
  });
}

/**
 * `up`'s progress on a terminal: the graph's waves, redrawn in place as
 * services wait, start, fail or are kept back, each with its time; the last
 * line names what happens outside the waves (images, networks).
 */
export function waveView(out: NodeJS.WriteStream, waves: string[][]): { progress: Progress; finish(): void } {
  const state = new Map<string, State>(waves.flat().map((n) => [n, 'pending']));
  const times = new Map<string, { start?: number; end?: number }>();
  let note = '';
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    const lines = [...waveLines(waves, state, times, Date.now(), true), note ? `   ${note}` : ''];
    // Back to the first line drawn, then each line cleared and written again.
    if (drawn) out.write(`\x1b[${drawn}A`);
    out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    drawn = lines.length;
  };
  const tick = setInterval(() => timer ?? draw(), 500);
  const progress = (e: ProgressEvent) => {
    if (e.kind === 'Service') {
      const t = times.get(e.name) ?? {};
      if (e.step === 'Starting') t.start = Date.now();
      if (['Started', 'Failed', 'Blocked'].includes(e.step)) t.end = Date.now();
      times.set(e.name, t);
      state.set(e.name, e.step.toLowerCase() as State);
    } else if (e.kind !== 'Container') note = `${e.kind} ${e.name}  ${e.step}`;
    timer ??= setTimeout(draw, 100);
  };
  return {
    progress,
    finish: () => {
      clearInterval(tick);
      if (timer) clearTimeout(timer);
      note = '';
      draw();
    },
  };
}
