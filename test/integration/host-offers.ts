import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What this machine offers, read by the tests themselves from the kernel's
 * files (not through Berth's detection, which is what they check), so each
 * test asserts the behaviour due on the host it runs on.
 */

const CG = '/sys/fs/cgroup';
export const cgroupV2 = fs.existsSync(path.join(CG, 'cgroup.controllers'));

/** A v1 controller's root folder, if that hierarchy is mounted. */
function v1(controller: string): string | undefined {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const line = mounts.find((l) => / - cgroup cgroup /.test(l) && l.split(' - ')[1].split(' ')[2]?.split(',').includes(controller));
  return line?.split(' ')[4];
}

/** On v2, files that exist only below the root, looked for in this process's own cgroup. */
function ownV2(file: string): boolean {
  const own = /^0::(.*)$/m.exec(readOr('/proc/self/cgroup', ''))?.[1] ?? '/';
  return own !== '/' && fs.existsSync(path.join(CG, own, file));
}

export function blkioWeight(): boolean {
  if (cgroupV2) return readOr(path.join(CG, 'cgroup.controllers'), '').split(/\s+/).includes('io') && (bfqOffered() || ownV2('io.weight') || ownV2('io.bfq.weight'));
  const dir = v1('blkio');
  return !!dir && (fs.existsSync(path.join(dir, 'blkio.weight')) || fs.existsSync(path.join(dir, 'blkio.bfq.weight')));
}

function bfqOffered(): boolean {
  return fs.readdirSync('/sys/block').some((d) => /\bbfq\b/.test(readOr(`/sys/block/${d}/queue/scheduler`, '')));
}

export function blkioThrottle(): boolean {
  if (cgroupV2) return fs.readFileSync(path.join(CG, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('io');
  const dir = v1('blkio');
  return !!dir && fs.existsSync(path.join(dir, 'blkio.throttle.read_bps_device'));
}

export function swapLimit(): boolean {
  if (cgroupV2) return ownV2('memory.swap.max');
  const dir = v1('memory');
  return !!dir && fs.existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'));
}

/** The CPUs containers may be given (the root cpuset), as numbers. */
export function hostCpus(): number[] {
  const text = readOr(cgroupV2 ? path.join(CG, 'cpuset.cpus.effective') : path.join(v1('cpuset') ?? CG, 'cpuset.cpus'), '').trim();
  return text.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_x, i) => a + i);
  });
}

/** v1 with controllers in a v2 hierarchy beside it: crun refuses to run there. */
export function hybridWithControllers(): boolean {
  return !cgroupV2 && readOr(path.join(CG, 'unified', 'cgroup.controllers'), '').trim() !== '';
}

/** A block device of this machine, with its numbers, for per-device limits. */
export function someBlockDevice(): { path: string; numbers: string } | undefined {
  for (const d of fs.readdirSync('/sys/block')) {
    const p = `/dev/${d}`;
    if (!/^(loop|ram|zram)/.test(d) && fs.existsSync(p) && fs.statSync(p).isBlockDevice()) return { path: p, numbers: readOr(`/sys/block/${d}/dev`, '').trim() };
  }
  return undefined;
}

/** tc's tbf and an ifb can be made (what the bandwidth plugin needs), tried in a namespace of its own. */
export function rateLimitParts(): boolean {
  const script = 'ip link add t0 type veth peer name t1 && tc qdisc add dev t0 root tbf rate 1mbit burst 32kb latency 400ms && tc qdisc add dev t0 ingress && ip link add i0 type ifb';
  return spawnSync('unshare', ['--net', 'sh', '-c', script], { stdio: 'ignore' }).status === 0;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** The kernel has IPv6 and it is on: dual-stack networks can be made. */
export function ipv6(): boolean {
  return readOr('/proc/sys/net/ipv6/conf/all/disable_ipv6', '1').trim() === '0';
}

/** HTB classes and iptables' CLASSIFY target (what --network-bandwidth shares need), tried in a namespace of its own. */
export function shareParts(): boolean {
  const script = 'ip link add t0 type veth peer name t1 && tc qdisc add dev t0 root handle 1: htb && iptables -w 5 -t mangle -A POSTROUTING -o t0 -j CLASSIFY --set-class 1:10';
  return spawnSync('unshare', ['--net', 'sh', '-c', script], { stdio: 'ignore' }).status === 0;
}
