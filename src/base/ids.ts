import { randomBytes } from 'node:crypto';

/** A 64-hex-digit id, as docker uses for containers and exec sessions. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

export const isFullId = (s: string) => /^[0-9a-f]{64}$/.test(s);

export const shortId = (id: string) => id.slice(0, 12);

const adjectives = [
  'brave', 'calm', 'eager', 'fond', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty',
  'quiet', 'sharp', 'sleepy', 'stoic', 'tender', 'upbeat', 'vivid', 'wise', 'zen', 'bold',
];
const surnames = [
  'babbage', 'curie', 'dijkstra', 'euler', 'fermi', 'galois', 'hopper', 'kepler', 'lamport',
  'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'hamilton',
];

/** A readable random container name like docker's (`happy_turing`). */
export function randomName(): string {
  const pick = <T>(xs: T[]) => xs[randomBytes(1)[0] % xs.length];
  return `${pick(adjectives)}_${pick(surnames)}`;
}
