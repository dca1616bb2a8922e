import { unavailable } from '../../base/errors';
import type { Router } from '../router';

const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const NOT_IN_SWARM = 'This node is not part of a swarm';

/**
 * docker's swarm endpoints, answered as an engine outside any swarm answers
 * them (dockerd 20.10's statuses and messages), so clients that look or
 * clean up (`docker swarm leave`, compose's checks, SDKs) see what they
 * expect. The cluster will answer them from its state once it exists.
 */
export function swarmRoutes(r: Router): void {
  const refuse = (message: string) => async () => {
    throw unavailable(message);
  };
  for (const p of ['/swarm', '/swarm/unlockkey', '/nodes', '/nodes/([^/]+)', '/services', '/services/([^/]+)', '/services/([^/]+)/logs', '/tasks', '/tasks/([^/]+)', '/tasks/([^/]+)/logs', '/secrets', '/secrets/([^/]+)', '/configs', '/configs/([^/]+)']) {
    r.add('GET', p, refuse(NOT_MANAGER));
  }
  for (const p of ['/nodes/([^/]+)/update', '/services/create', '/services/([^/]+)/update', '/secrets/create', '/secrets/([^/]+)/update', '/configs/create', '/configs/([^/]+)/update']) {
    r.add('POST', p, refuse(NOT_MANAGER));
  }
  for (const p of ['/nodes/([^/]+)', '/services/([^/]+)', '/secrets/([^/]+)', '/configs/([^/]+)']) r.add('DELETE', p, refuse(NOT_MANAGER));
  for (const p of ['/swarm/leave', '/swarm/update', '/swarm/unlock']) r.add('POST', p, refuse(NOT_IN_SWARM));
  for (const p of ['/swarm/init', '/swarm/join']) r.add('POST', p, refuse('swarm mode is not available in this version of Berth'));
}
