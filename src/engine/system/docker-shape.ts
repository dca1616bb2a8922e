import { MASKED_PATHS, READONLY_PATHS } from '../../runtime/spec';
import type { ContainerRecord } from '../model';

/**
 * Every key of dockerd 20.10's HostConfig, in its order, with the value it
 * shows when a client sent nothing: inspect answers with all of them, so a
 * template like `{{.HostConfig.Memory}}` works on any container.
 */
const HOST_CONFIG_DEFAULTS = {
  Binds: null, ContainerIDFile: '', LogConfig: { Type: 'json-file', Config: {} }, NetworkMode: 'default', PortBindings: null,
  RestartPolicy: { Name: '', MaximumRetryCount: 0 }, AutoRemove: false, VolumeDriver: '', VolumesFrom: null, CapAdd: null, CapDrop: null,
  CgroupnsMode: 'private', Dns: null, DnsOptions: null, DnsSearch: null, ExtraHosts: null, GroupAdd: null, IpcMode: 'private', Cgroup: '', Links: null,
  OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '',
  ShmSize: 0, Runtime: 'runc', ConsoleSize: [0, 0], Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0,
  BlkioWeightDevice: null, BlkioDeviceReadBps: null, BlkioDeviceWriteBps: null, BlkioDeviceReadIOps: null, BlkioDeviceWriteIOps: null, CpuPeriod: 0,
  CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '', Devices: null, DeviceCgroupRules: null, DeviceRequests: null,
  KernelMemory: 0, KernelMemoryTCP: 0, MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: null, OomKillDisable: false, PidsLimit: null, Ulimits: null,
  CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null as string[] | null, ReadonlyPaths: null as string[] | null,
};

/** Every key of dockerd 20.10's Config, in its order, with its value when a client sent nothing. */
const CONFIG_DEFAULTS = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false,
  Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: {},
};

/** The HostConfig inspect shows: docker's whole shape, the record's values over its defaults, the paths the runtime masks. */
export function inspectHostConfig(c: ContainerRecord): Record<string, unknown> {
  const h = c.HostConfig;
  const unconfined = !!h.Privileged || (h.SecurityOpt ?? []).some((o) => /^systempaths[=:]unconfined$/.test(o));
  return {
    ...withDefaults(HOST_CONFIG_DEFAULTS, h),
    MaskedPaths: unconfined ? null : MASKED_PATHS,
    ReadonlyPaths: unconfined ? null : READONLY_PATHS,
  };
}

export function inspectConfig(c: ContainerRecord): Record<string, unknown> {
  return withDefaults(CONFIG_DEFAULTS, c.Config);
}

/** An image's Config (or ContainerConfig) as dockerd shows it: every key, Labels null when none. */
export function imageConfigShape(config: object | undefined): Record<string, unknown> {
  return withDefaults({ ...CONFIG_DEFAULTS, Labels: null }, config ?? {});
}

/** The record's values over the defaults, in the defaults' key order; an undefined value does not hide a default. */
function withDefaults(defaults: object, values: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v;
  return out;
}
