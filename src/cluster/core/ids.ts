import { randomBytes } from 'node:crypto';

/** swarm's ids (nodes, services, tasks, the cluster): 25 characters of [a-z0-9]. */
export function swarmId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(25)].map((b) => alphabet[b % 36]).join('');
}
