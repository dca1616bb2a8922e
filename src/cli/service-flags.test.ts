import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFlags } from './flags';
import { createSpec, CREATE_FLAGS, updateSpec, UPDATE_FLAGS } from './service-flags';

const create = (...argv: string[]) => createSpec(parseFlags(argv, CREATE_FLAGS, { stopAtFirstArg: true }));

test('service create flags become docker\'s ServiceSpec', () => {
  const s = create(
    '--name', 'web', '--replicas', '3', '-e', 'A=1', '--label', 'team=x', '--constraint', 'node.role==worker', '--placement-pref', 'spread=node.labels.zone',
    '--reserve-cpu', '0.5', '--limit-memory', '64m', '--restart-condition', 'on-failure', '--restart-delay', '2s', '--stop-grace-period', '1s',
    '--update-parallelism', '2', '--update-monitor', '500ms', '--update-failure-action', 'rollback', '--update-max-failure-ratio', '0.25', '--rollback-order', 'start-first',
    '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '100',
  );
  assert.equal(s.Name, 'web');
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(s.TaskTemplate?.ContainerSpec?.Args, ['sleep', '100']);
  assert.equal(s.TaskTemplate?.ContainerSpec?.Image, 'busybox');
  assert.deepEqual(s.TaskTemplate?.ContainerSpec?.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 1e9 });
  assert.deepEqual(s.TaskTemplate?.Resources, { Reservations: { NanoCPUs: 5e8 }, Limits: { MemoryBytes: 64 * 1024 * 1024 } });
  assert.deepEqual(s.TaskTemplate?.Placement, { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] });
  assert.deepEqual(s.TaskTemplate?.RestartPolicy, { Condition: 'on-failure', Delay: 2e9 });
  assert.deepEqual(s.UpdateConfig, { Parallelism: 2, Monitor: 5e8, FailureAction: 'rollback', MaxFailureRatio: 0.25 });
  assert.deepEqual(s.RollbackConfig, { Order: 'start-first' });
  assert.deepEqual(create('--mode', 'global', 'busybox').Mode, { Global: {} });
});

test('service update changes only what its flags name', () => {
  const cur = create('--name', 'web', '--replicas', '2', '-e', 'A=1', '-e', 'B=2', '--constraint', 'node.role==worker', '--label', 'x=1', 'busybox', 'sleep', '1');
  const u = updateSpec(cur, parseFlags(['--env-add', 'B=3', '--env-rm', 'A', '--constraint-rm', 'node.role==worker', '--label-add', 'y=2', '--image', 'busybox:2', '--force', 'web'], UPDATE_FLAGS));
  assert.deepEqual(u.TaskTemplate?.ContainerSpec?.Env, ['B=3']);
  assert.deepEqual(u.TaskTemplate?.Placement?.Constraints, []);
  assert.deepEqual(u.Labels, { x: '1', y: '2' });
  assert.equal(u.TaskTemplate?.ContainerSpec?.Image, 'busybox:2');
  assert.equal(u.TaskTemplate?.ForceUpdate, 1);
  assert.deepEqual(u.Mode, { Replicated: { Replicas: 2 } });
  assert.deepEqual(u.TaskTemplate?.ContainerSpec?.Args, ['sleep', '1']);
  assert.deepEqual(cur.TaskTemplate?.ContainerSpec?.Env, ['A=1', 'B=2'], 'the current spec is not changed in place');
});

test('bad flags are refused, saying which', () => {
  const cases: [string[], RegExp][] = [
    [['--mode', 'daemonset', 'busybox'], /--mode/],
    [['--mode', 'global', '--replicas', '2', 'busybox'], /replicas can only be used with replicated mode/],
    [['--reserve-cpu', 'lots', 'busybox'], /--reserve-cpu/],
    [['--restart-delay', 'soon', 'busybox'], /invalid duration/],
    [['--placement-pref', 'pack=node.id', 'busybox'], /invalid placement preference/],
    [['--update-max-failure-ratio', 'half', 'busybox'], /--update-max-failure-ratio/],
  ];
  for (const [argv, message] of cases) assert.throws(() => create(...argv), message);
});

test('networks, published ports and mounts, as docker\'s CLI sends them; update adds and removes each', () => {
  const s = create('--network', 'front', '--network', 'name=back,alias=db,alias=store', '-p', '8080:80', '-p', 'mode=host,published=53,target=53,protocol=udp', '-p', '9000',
    '--mount', 'type=volume,source=data,target=/data', '--endpoint-mode', 'dnsrr', 'busybox');
  assert.deepEqual(s.TaskTemplate?.Networks, [{ Target: 'front' }, { Target: 'back', Aliases: ['db', 'store'] }]);
  assert.deepEqual(s.EndpointSpec, {
    Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }, { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'host' }, { Protocol: 'tcp', TargetPort: 9000, PublishMode: 'ingress' }],
    Mode: 'dnsrr',
  });
  assert.equal(s.TaskTemplate?.ContainerSpec?.Mounts?.[0].Target, '/data');
  const u = updateSpec(s, parseFlags(['--network-rm', 'front', '--network-add', 'extra', '--publish-rm', '8080', '--publish-add', 'mode=host,target=81', '--mount-rm', '/data', '--mount-add', 'type=tmpfs,target=/tmp', 'web'], UPDATE_FLAGS));
  assert.deepEqual(u.TaskTemplate?.Networks, [{ Target: 'back', Aliases: ['db', 'store'] }, { Target: 'extra' }]);
  assert.deepEqual(u.EndpointSpec?.Ports?.map((p) => `${p.PublishedPort ?? '-'}:${p.TargetPort}/${p.Protocol} ${p.PublishMode}`), ['53:53/udp host', '-:9000/tcp ingress', '-:81/tcp host']);
  assert.deepEqual(u.TaskTemplate?.ContainerSpec?.Mounts?.map((m) => `${m.Type} ${m.Target}`), ['tmpfs /tmp']);
  for (const [flag, message] of [['-p', 'x:80'], ['-p', 'mode=host,published=80'], ['-p', 'published=99999,target=1'], ['-p', 'port=1,target=1'], ['--network', 'alias=x'], ['--network', 'name=a,driver=b']]) {
    assert.throws(() => create(flag, message, 'busybox'), /invalid argument/);
  }
});
