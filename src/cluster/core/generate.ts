import { seededRandom } from '../../base/seeded';
import { type ClusterNode, type Service, type ServiceSpec, type Task, UPDATE_DEFAULTS } from './model';

/** The seeded generator, under the name the cluster's tests use. */
export const rng = seededRandom;

export const GIB = 1024 ** 3;
export const CPU = 1e9;

export function node(id: string, o: Partial<ClusterNode> = {}): ClusterNode {
  return { id, hostname: id, role: 'worker', availability: 'active', labels: {}, ready: true, allocatable: { nanoCpus: 4 * CPU, memoryBytes: 8 * GIB }, ...o };
}

export function spec(name: string, o: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name, container: { image: 'busybox' }, mode: { replicated: { replicas: 1 } }, reservations: { nanoCpus: 0, memoryBytes: 0 },
    placement: { constraints: [], preferences: [], maxReplicasPerNode: 0 }, restart: { condition: 'any', delayMs: 5000, maxAttempts: 0, windowMs: 0 }, update: { ...UPDATE_DEFAULTS }, rollback: { ...UPDATE_DEFAULTS }, labels: {}, ...o,
  };
}

export function service(id: string, o: Partial<ServiceSpec> = {}, version = 1): Service {
  return { id, version, spec: spec(id, o) };
}

let seq = 0;
export function task(serviceId: string, o: Partial<Task> = {}): Task {
  return { id: `t${++seq}`, serviceId, specVersion: 1, desired: 'running', state: 'pending', createdAt: 0, updatedAt: 0, attempt: 1, reservations: { nanoCpus: 0, memoryBytes: 0 }, ...o };
}
