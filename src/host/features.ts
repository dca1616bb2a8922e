import * as os from 'node:os';
import { type CgroupFeatures, detectCgroups } from './cgroups';
import { HostFs } from './host-fs';
import { type IoScheduler, ioSchedulers, type NetSysctls, netSysctls, type OverlayFeatures, overlayFeatures, type SecurityFeatures, securityFeatures } from './kernel';
import { type CriuFeatures, type NetPartFeatures, type NetnsShell, probeCriu, probeNetParts } from './probes';

export type { CgroupFeatures, CriuFeatures, IoScheduler, NetPartFeatures, NetSysctls, OverlayFeatures, SecurityFeatures };

/**
 * What this host offers Berth, detected once at daemon start (moby's
 * pkg/sysinfo, widened to the parts Berth's own features use). Everything
 * that depends on a kernel part asks this record, never the kernel again,
 * so a feature the host lacks is known to be off before anything is made.
 */
export interface HostFeatures {
  kernel: string;
  /** CPUs this process may run on (docker's NCPU). */
  cpus: number;
  cgroups: CgroupFeatures;
  ioSchedulers: IoScheduler[];
  security: SecurityFeatures;
  overlay: OverlayFeatures;
  net: NetSysctls & NetPartFeatures;
  criu: CriuFeatures;
}

export interface DetectOptions {
  /** Where /proc and /sys are read from (a fake tree in tests). */
  fs?: HostFs;
  kernel?: string;
  cpus?: number;
  netns?: NetnsShell;
  criu?: () => Promise<CriuFeatures>;
}

export async function detectHost(o: DetectOptions = {}): Promise<HostFeatures> {
  const fs = o.fs ?? new HostFs('/');
  const kernel = o.kernel ?? os.release();
  const [parts, criu] = await Promise.all([probeNetParts(o.netns), (o.criu ?? probeCriu)()]);
  return {
    kernel,
    cpus: o.cpus ?? os.availableParallelism(),
    cgroups: detectCgroups(fs),
    ioSchedulers: ioSchedulers(fs),
    security: securityFeatures(fs),
    overlay: overlayFeatures(fs, kernel),
    net: { ...netSysctls(fs), ...parts },
    criu,
  };
}
