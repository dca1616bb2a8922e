/**
 * The wire between the daemon and a container's probe agent
 * (native/probe_agent.c), little-endian: a request is `u32 len, u32 seq,
 * u32 timeout_ms, argv as NUL-ended strings`; a reply is `u32 len, u32 seq,
 * i32 code, u8 how, u8 more, output`. `len` counts the bytes after itself.
 * Pure. The agent keeps at most MAX_OUTPUT bytes of a probe's output, as
 * docker does (its own MAX_OUTPUT must stay equal).
 */
import { MAX_OUTPUT } from './health-rules';

/** What the agent sends first, on its own line, with the token it was started with. */
export const HELLO = 'berth-probe 1 ';

export type ProbeEnd = 'exited' | 'timeout' | 'nostart';
const ENDS: ProbeEnd[] = ['exited', 'timeout', 'nostart'];

export interface AgentReply {
  seq: number;
  /** The exit status (128+n for signal n); for `nostart`, execvp's errno. */
  code: number;
  end: ProbeEnd;
  /** Output was cut: more came than `output` holds. */
  more: boolean;
  output: Buffer;
}

const REPLY_HEAD = 10;

export function encodeRequest(seq: number, timeoutMs: number, argv: string[]): Buffer {
  if (argv.length === 0 || argv.some((a) => a.includes('\0'))) throw new Error('a probe command is one or more strings without NUL');
  const args = Buffer.from(argv.map((a) => `${a}\0`).join(''));
  const b = Buffer.alloc(12 + args.length);
  b.writeUInt32LE(8 + args.length, 0);
  b.writeUInt32LE(seq >>> 0, 4);
  b.writeUInt32LE(Math.min(Math.max(0, Math.round(timeoutMs)), 0xffffffff), 8);
  args.copy(b, 12);
  return b;
}

/** The agent's replies from a byte stream, whatever the chunking; throws on a frame no agent sends. */
export class ReplyReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): AgentReply[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: AgentReply[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32LE(0);
      if (len < REPLY_HEAD || len > REPLY_HEAD + MAX_OUTPUT) throw new Error(`probe agent: a reply of ${len} bytes`);
      if (this.buf.length < 4 + len) break;
      const how = this.buf[4 + 8];
      if (how >= ENDS.length) throw new Error(`probe agent: unknown end ${how}`);
      out.push({
        seq: this.buf.readUInt32LE(4),
        code: this.buf.readInt32LE(8),
        end: ENDS[how],
        more: this.buf[4 + 9] !== 0,
        output: Buffer.from(this.buf.subarray(4 + REPLY_HEAD, 4 + len)),
      });
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

/** runc's words for an exec that could not start, from execvp's errno, so a probe reads the same either way. */
export function startFailure(arg0: string, errno: number, names: Record<string, number>): string {
  const name = Object.keys(names).find((k) => names[k] === errno);
  if (name === 'ENOENT') return arg0.includes('/') ? `exec: "${arg0}": stat ${arg0}: no such file or directory` : `exec: "${arg0}": executable file not found in $PATH`;
  const words: Record<string, string> = { EACCES: 'permission denied', ENOEXEC: 'exec format error', ENOTDIR: 'not a directory', E2BIG: 'argument list too long', EAGAIN: 'resource temporarily unavailable', ENOMEM: 'cannot allocate memory' };
  return `exec: "${arg0}": ${(name && words[name]) ?? `errno ${errno}`}`;
}
