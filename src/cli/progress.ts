import { BerthError } from '../base/errors';

/** A message of a pull or push stream (docker's jsonmessage). */
export interface ProgressMessage {
  id?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/**
 * Shows a pull's or push's messages as docker does: on a terminal one line
 * per layer, rewritten in place with its bar; otherwise a line per change of
 * status, without the bars. Throws the stream's error.
 */
export async function showPullProgress(messages: AsyncIterable<ProgressMessage>, tty: boolean, out: NodeJS.WritableStream = process.stdout): Promise<ProgressMessage[]> {
  const lines: string[] = [];
  const all: ProgressMessage[] = [];
  for await (const m of messages) {
    all.push(m);
    if (m.error) throw new BerthError('internal', m.errorDetail?.message ?? m.error);
    if (!m.status) continue;
    const text = `${m.id ? `${m.id}: ` : ''}${m.status}${tty && m.progress ? ` ${m.progress}` : ''}`;
    if (!tty) {
      if (!m.progress) out.write(text + '\n');
      continue;
    }
    const at = m.id ? lines.indexOf(m.id) : -1;
    if (at < 0) {
      if (m.id) lines.push(m.id);
      else lines.push('');
      out.write(`\x1b[2K\r${text}\n`);
    } else {
      const up = lines.length - at;
      out.write(`\x1b[${up}A\x1b[2K\r${text}\x1b[${up}B\r`);
    }
  }
  return all;
}
