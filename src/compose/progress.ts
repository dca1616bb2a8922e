/** One step of one object in a compose command, as docker compose prints them. */
export interface ProgressEvent {
  /** Service events tell a service's course through `up` (Waiting, Starting, Started, Failed, Blocked), for views of the graph. */
  kind: 'Container' | 'Network' | 'Volume' | 'Image' | 'Service';
  name: string;
  step: string;
  service?: string;
  detail?: string;
}

export type Progress = (e: ProgressEvent) => void;

const DONE = new Set(['Built', 'Created', 'Recreated', 'Started', 'Running', 'Healthy', 'Exited', 'Stopped', 'Removed', 'Pulled', 'Pushed', 'Copied', 'Killed', 'Paused', 'Unpaused', 'Restarted']);

/**
 * Plain lines, one per step (`Container p-web-1  Started  0.4s`): a finished
 * step shows the time since the object's first step of this command.
 */
export function lineProgress(out: { write(s: string): unknown }, now: () => number = Date.now): Progress {
  const first = new Map<string, number>();
  return (e) => {
    if (e.kind === 'Service') return;
    const key = `${e.kind} ${e.name}`;
    if (!first.has(key)) first.set(key, now());
    const took = DONE.has(e.step) ? `  ${((now() - first.get(key)!) / 1000).toFixed(1)}s` : '';
    out.write(` ${key}  ${e.step}${took}${e.detail ? `  ${e.detail}` : ''}\n`);
  };
}
