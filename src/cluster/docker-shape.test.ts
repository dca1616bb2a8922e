import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromDockerSpec, toDockerService } from './docker-shape';

test("docker's service spec becomes Berth's, with docker's defaults", () => {
  const s = fromDockerSpec({
    Name: 'web',
    TaskTemplate: {
      ContainerSpec: { Image: 'busybox', Args: ['sleep', '1'], Env: ['A=1'], StopGracePeriod: 3e9 },
      Resources: { Reservations: { NanoCPUs: 5e8, MemoryBytes: 1 << 20 }, Limits: { MemoryBytes: 2 << 20 } },
      RestartPolicy: { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 3 },
      Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 },
    },
    Mode: { Replicated: { Replicas: 4 } },
    UpdateConfig: { Parallelism: 2, Delay: 1e9, FailureAction: 'rollback', Monitor: 2e9, MaxFailureRatio: 0.25, Order: 'start-first' },
    RollbackConfig: { Parallelism: 0, FailureAction: 'continue' },
  });
  assert.deepEqual(s.mode, { replicated: { replicas: 4 } });
  assert.deepEqual(s.container, { image: 'busybox', args: ['sleep', '1'], env: ['A=1'], stopGraceSeconds: 3, limits: { nanoCpus: 0, memoryBytes: 2 << 20 } });
  assert.deepEqual(s.reservations, { nanoCpus: 5e8, memoryBytes: 1 << 20 });
  assert.deepEqual(s.restart, { condition: 'on-failure', delayMs: 2000, maxAttempts: 3, windowMs: 0 });
  assert.deepEqual(s.placement, { constraints: ['node.role==worker'], preferences: ['spread=node.labels.zone'], maxReplicasPerNode: 2 });
  assert.deepEqual(s.update, { parallelism: 2, delayMs: 1000, failureAction: 'rollback', monitorMs: 2000, maxFailureRatio: 0.25, order: 'start-first' });
  assert.deepEqual(s.rollback, { parallelism: 0, delayMs: 0, failureAction: 'continue', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' });
  // swarm's defaults: one replica, restart on any end after 5 s, one task at a time.
  const d = fromDockerSpec({ Name: 'd', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } });
  assert.deepEqual([d.mode, d.restart.condition, d.restart.delayMs, d.update.parallelism], [{ replicated: { replicas: 1 } }, 'any', 5000, 1]);
  assert.deepEqual(fromDockerSpec({ Name: 'g', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Global: {} } }).mode, { global: {} });
});

test('bad specs and what the cluster does not do yet are refused, saying which', () => {
  const base = { TaskTemplate: { ContainerSpec: { Image: 'busybox' } } };
  const cases: [object, RegExp][] = [
    [{ Name: 'x', TaskTemplate: { ContainerSpec: {} } }, /image reference must be provided/],
    [{ ...base, Name: 'bad_name!' }, /valid as a DNS name component/],
    [{ ...base, Name: 'x', Mode: { Replicated: { Replicas: -1 } } }, /invalid replicas value -1/],
    [{ ...base, Name: 'x', EndpointSpec: { Ports: [{ TargetPort: 80 }] } }, /does not have the routing mesh yet .*--publish mode=host,published=80,target=80/],
    [{ ...base, Name: 'x', EndpointSpec: { Ports: [{ TargetPort: 70000, PublishMode: 'host' }] } }, /invalid port :70000/],
    [{ ...base, Name: 'x', EndpointSpec: { Ports: [{ TargetPort: 80, Protocol: 'sctp', PublishMode: 'host' }] } }, /invalid protocol "sctp"/],
    [{ ...base, Name: 'x', EndpointSpec: { Mode: 'round-robin' } }, /invalid endpoint mode "round-robin"/],
    [{ ...base, Name: 'x', TaskTemplate: { ...base.TaskTemplate, Networks: [{ Target: 'n' }] } }, /network n not found \(services join cluster networks/],
    [{ ...base, Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox', Mounts: [{ Type: 'bind', Source: 'rel', Target: '/a' }] } } }, /source must be an absolute path/],
    [{ ...base, Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox', Mounts: [{ Type: 'volume', Target: 'a' }] } } }, /mount target must be an absolute path/],
    [{ ...base, Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox', Mounts: [{ Type: 'npipe', Target: '/a' }] } } }, /invalid mount type "npipe"/],
    [{ ...base, Name: 'x', TaskTemplate: { ...base.TaskTemplate, RestartPolicy: { Condition: 'always' } } }, /invalid RestartCondition "always"/],
    [{ ...base, Name: 'x', TaskTemplate: { ...base.TaskTemplate, Placement: { Constraints: ['zone=east'] } } }, /expected KEY==VALUE/],
    [{ ...base, Name: 'x', UpdateConfig: { FailureAction: 'retry' } }, /invalid update failure action "retry"/],
    [{ ...base, Name: 'x', RollbackConfig: { FailureAction: 'rollback' } }, /invalid rollback failure action "rollback": pause, continue/],
    [{ ...base, Name: 'x', UpdateConfig: { Order: 'random' } }, /invalid update order "random"/],
    [{ ...base, Name: 'x', UpdateConfig: { MaxFailureRatio: 2 } }, /invalid update max failure ratio 2/],
    [{ ...base, Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'busybox', Healthcheck: { Test: ['RUN', 'x'] } } } }, /invalid Healthcheck.Test/],
  ];
  for (const [spec, message] of cases) assert.throws(() => fromDockerSpec(spec), message);
});

test('networks by name, id or prefix, each once; host-mode ports and mounts kept for the node', () => {
  const net = (id: string, name: string) => ({ id, name, driver: 'overlay' as const, subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: 4097, labels: {}, attachable: false, internal: false, options: {}, createdAt: '' });
  const networks = [net('abc123', 'front'), net('abd456', 'back')];
  const s = fromDockerSpec({
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Mounts: [{ Type: 'tmpfs', Target: '/tmp' }, { Source: 'data', Target: '/data' }] }, Networks: [{ Target: 'front', Aliases: ['www'] }, { Target: 'abd' }] },
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }, { TargetPort: 53, Protocol: 'udp', PublishMode: 'host' }] },
  }, { networks, secrets: [], configs: [] });
  assert.deepEqual(s.container.networks, [{ id: 'abc123', aliases: ['www'] }, { id: 'abd456' }]);
  assert.deepEqual(s.container.ports, [{ target: 80, published: 8080, protocol: 'tcp' }, { target: 53, protocol: 'udp' }]);
  assert.deepEqual(s.container.mounts, [{ Type: 'tmpfs', Target: '/tmp' }, { Type: 'volume', Source: 'data', Target: '/data' }]);
  // The old top-level Networks (docker before 1.25's API) are read too.
  assert.deepEqual(fromDockerSpec({ Name: 'w', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Networks: [{ Target: 'abc123' }] }, { networks, secrets: [], configs: [] }).container.networks, [{ id: 'abc123' }]);
  assert.throws(() => fromDockerSpec({ Name: 'w', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'ab' }] } }, { networks, secrets: [], configs: [] }), /network ab not found/);
  assert.throws(() => fromDockerSpec({ Name: 'w', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'front' }, { Target: 'abc' }] } }, { networks, secrets: [], configs: [] }), /attached to network front more than once/);
});

test('a service shows back as given, with the defaults docker fills and its version index', () => {
  const given = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 2 } } };
  const spec = fromDockerSpec(given);
  const shown = toDockerService({ id: 's1', version: 1, spec, given, createdAt: 'c', updatedAt: 'u', index: 42 }, 1, 2);
  assert.equal(shown.Version.Index, 42);
  assert.deepEqual(shown.Spec.Mode, { Replicated: { Replicas: 2 } });
  assert.deepEqual(shown.Spec.TaskTemplate?.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
  assert.deepEqual(shown.ServiceStatus, { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 0 });
  assert.equal(shown.Spec.UpdateConfig?.Monitor, 5e9);
  assert.equal('UpdateStatus' in shown, false);
  // A roll-out shows as docker's UpdateStatus; a previous spec as PreviousSpec.
  const rolled = toDockerService({
    id: 's1', version: 2, spec, given, previous: { version: 1, spec }, previousGiven: given, createdAt: 'c', updatedAt: 'u', index: 43,
    rollout: { version: 2, state: 'paused', startedAt: 0, message: 'update paused due to failure or early termination of task t1', total: 2, failures: ['t1'] },
  });
  assert.deepEqual(rolled.UpdateStatus, { State: 'paused', StartedAt: new Date(0).toISOString(), Message: 'update paused due to failure or early termination of task t1' });
  assert.deepEqual(rolled.PreviousSpec?.Mode, { Replicated: { Replicas: 2 } });
});
