import * as fs from 'node:fs';

export interface HostProcess {
  pid: number;
  argv: string[];
}

/** Every process the host shows in /proc with its argv (kernel threads have none). */
export function hostProcesses(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv[argv.length - 1] === '') argv.pop();
      out.push({ pid: Number(p), argv });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Whether a process of that id exists (signal 0: no signal sent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: gone (EPERM cannot happen: the daemon is root)
    return false;
  }
}

/** The mount points the host shows, from this process's mountinfo. */
export function mountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter(Boolean)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** A process and all it started, deepest last (from /proc/<pid>/task/<tid>/children); empty when it is gone. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let kids = '';
      try {
        kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        /* gone */
      }
      for (const k of kids.split(/\s+/).filter(Boolean)) visit(Number(k));
    }
  };
  if (fs.existsSync(`/proc/${pid}`)) visit(pid);
  return out;
}
