import { run } from '../base/exec';
import { errorMessage } from '../base/errors';
import { which } from '../base/which';

/** The kernel's traffic control and netfilter parts that Berth's network features use, tried for real. */
export interface NetPartFeatures {
  veth: boolean;
  /** Queueing disciplines, by tc's names. */
  qdiscs: Record<'tbf' | 'htb' | 'ingress' | 'fq_codel' | 'sfq' | 'prio' | 'hfsc', boolean>;
  ifb: boolean;
  /** The u32 classifier with a mirred redirect (what sends a veth's ingress through an ifb). */
  u32Mirred: boolean;
  /** iptables' CLASSIFY target (what puts a container's traffic into its class on a shared link). */
  classify: boolean;
  iptables: { masquerade: boolean; dnat: boolean; conntrack: boolean };
  nftables: boolean;
  /** Why nothing could be tried (no namespace could be made), if so. */
  error?: string;
}

export interface CriuFeatures {
  path?: string;
  version?: string;
  /** `criu check` passed: checkpoint and restore can work on this kernel. */
  works: boolean;
  detail: string;
}

/** Runs a shell script in a network namespace of its own (made and gone with the process). */
export type NetnsShell = (script: string) => Promise<string>;

const QDISCS: [keyof NetPartFeatures['qdiscs'], string][] = [
  ['tbf', 'root tbf rate 1mbit burst 32kb latency 400ms'],
  ['htb', 'root handle 1: htb'],
  ['fq_codel', 'root fq_codel'],
  ['sfq', 'root sfq'],
  ['prio', 'root prio'],
  ['hfsc', 'root handle 1: hfsc'],
];

/**
 * One script, each line `ok PART` or `no PART`: every part is tried on a
 * veth in a throwaway namespace, as the plugins will use it. A kernel whose
 * parts are modules loads them on first use, so trying is the only
 * reliable way to know (/proc/config.gz is not on every host).
 */
export const NET_PROBE_SCRIPT = [
  't() { n=$1; shift; if "$@" >/dev/null 2>&1; then echo "ok $n"; else echo "no $n"; fi; }',
  't veth ip link add bp0 type veth peer name bp1',
  'ip link set bp0 up 2>/dev/null',
  ...QDISCS.map(([n, q]) => `t ${n} tc qdisc add dev bp0 ${q}; tc qdisc del dev bp0 root >/dev/null 2>&1`),
  't ingress tc qdisc add dev bp0 ingress',
  't ifb ip link add bpi0 type ifb',
  't u32Mirred tc filter add dev bp0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev bpi0',
  't classify iptables -w 5 -t mangle -A POSTROUTING -o bp0 -j CLASSIFY --set-class 1:10',
  't masquerade iptables -w 5 -t nat -A POSTROUTING -s 10.0.0.0/8 ! -o bp0 -j MASQUERADE',
  't dnat iptables -w 5 -t nat -A PREROUTING -p tcp --dport 1 -j DNAT --to-destination 10.0.0.1:1',
  't conntrack iptables -w 5 -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  't nftables nft add table inet berth_probe',
  'true',
].join('\n');

export function parseNetProbe(out: string): NetPartFeatures {
  const ok = new Set(out.split('\n').filter((l) => l.startsWith('ok ')).map((l) => l.slice(3).trim()));
  return {
    veth: ok.has('veth'),
    qdiscs: { tbf: ok.has('tbf'), htb: ok.has('htb'), ingress: ok.has('ingress'), fq_codel: ok.has('fq_codel'), sfq: ok.has('sfq'), prio: ok.has('prio'), hfsc: ok.has('hfsc') },
    ifb: ok.has('ifb'),
    u32Mirred: ok.has('u32Mirred'),
    classify: ok.has('classify'),
    iptables: { masquerade: ok.has('masquerade'), dnat: ok.has('dnat'), conntrack: ok.has('conntrack') },
    nftables: ok.has('nftables'),
  };
}

export const unshareShell: NetnsShell = async (script) => (await run('unshare', ['--net', 'sh', '-c', script], { timeoutMs: 20_000 })).stdout;

export async function probeNetParts(shell: NetnsShell = unshareShell): Promise<NetPartFeatures> {
  try {
    return parseNetProbe(await shell(NET_PROBE_SCRIPT));
  } catch (e) {
    // No namespace could be made (not root, no unshare): nothing can be said to work.
    return { ...parseNetProbe(''), error: errorMessage(e) };
  }
}

/** Is there a CRIU, and does `criu check` pass on this kernel (Debian 12's 3.17 fails on kernels ≥ 6.13)? */
export async function probeCriu(): Promise<CriuFeatures> {
  const path = which('criu');
  if (!path) return { works: false, detail: 'criu is not installed' };
  const version = await run(path, ['--version'], { timeoutMs: 5_000 }).then((r) => /Version:\s*(\S+)/.exec(r.stdout)?.[1], () => undefined);
  try {
    await run(path, ['check'], { timeoutMs: 20_000 });
    return { path, version, works: true, detail: `criu ${version ?? ''} check passed`.replace('  ', ' ') };
  } catch (e) {
    const why = errorMessage(e).split('\n').find((l) => /error/i.test(l)) ?? errorMessage(e).split('\n')[0];
    return { path, version, works: false, detail: `criu ${version ?? ''} check fails: ${why.trim()}`.replace('  ', ' ') };
  }
}
