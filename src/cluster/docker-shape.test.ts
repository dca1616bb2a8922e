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
    [{ ...base, Name: 'x', EndpointSpec: { Ports: [{ TargetPort: 80 }] } }, /does not support published ports/],
    [{ ...base, Name: 'x', TaskTemplate: { ...base.TaskTemplate, Networks: [{ Target: 'n' }] } }, /does not support service networks/],
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
