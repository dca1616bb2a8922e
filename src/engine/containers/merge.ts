import { invalidArgument } from '../../base/errors';
import type { ContainerConfig, HealthConfig } from '../../oci/image';

/** The container config a client sends (docker's create body, minus HostConfig). */
export interface ContainerCreateConfig extends ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
  StopTimeout?: number | null;
  NetworkDisabled?: boolean;
  /** The first network's interface address (`--mac-address`). */
  MacAddress?: string;
}

/** `K=V` lists: later entries replace earlier ones with the same key, order kept. */
export function mergeEnv(base?: string[] | null, over?: string[] | null): string[] {
  const out = [...(base ?? [])];
  for (const e of over ?? []) {
    const key = e.split('=')[0];
    const i = out.findIndex((x) => x.split('=')[0] === key);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/**
 * Fills a container's config from its image exactly as docker does:
 * Entrypoint null takes the image's, [] means none; Cmd is taken from the
 * image only when the user gave neither Cmd nor an Entrypoint.
 */
export function mergeImageConfig(user: ContainerCreateConfig, image: ContainerConfig = {}): ContainerCreateConfig {
  const c: ContainerCreateConfig = { ...user };
  const userEntrypointEmpty = !c.Entrypoint || c.Entrypoint.length === 0;
  if (userEntrypointEmpty) {
    if (!c.Cmd || c.Cmd.length === 0) c.Cmd = image.Cmd ?? null;
    if (c.Entrypoint === null || c.Entrypoint === undefined) c.Entrypoint = image.Entrypoint ?? null;
  }
  c.Env = mergeEnv(image.Env, user.Env);
  c.WorkingDir = user.WorkingDir || image.WorkingDir || '';
  c.User = user.User || image.User || '';
  c.Labels = { ...image.Labels, ...user.Labels };
  c.ExposedPorts = image.ExposedPorts || user.ExposedPorts ? { ...image.ExposedPorts, ...user.ExposedPorts } : undefined;
  c.Volumes = image.Volumes || user.Volumes ? { ...image.Volumes, ...user.Volumes } : undefined;
  c.StopSignal = user.StopSignal || image.StopSignal;
  c.Healthcheck = mergeHealthcheck(user.Healthcheck, image.Healthcheck);
  c.OnBuild = image.OnBuild ?? null;
  return c;
}

/** As dockerd: what the user's health check leaves out (the test, a zero time or count) comes from the image's. */
function mergeHealthcheck(user: HealthConfig | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  if (!user || !image) return user ?? image;
  return {
    Test: user.Test?.length ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    StartInterval: user.StartInterval || image.StartInterval,
    Retries: user.Retries || image.Retries,
  };
}

/** Path and Args of the process, from a merged config. */
export function processArgs(c: ContainerCreateConfig): { path: string; args: string[] } {
  const argv = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (argv.length === 0) throw invalidArgument('No command specified');
  return { path: argv[0], args: argv.slice(1) };
}
