import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadProject } from './spec/load';
import { objectName, stackService, STACK_LABEL } from './stack';

function project(yaml: string, name = 'shop') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-stack-'));
  try {
    fs.writeFileSync(path.join(dir, 'compose.yml'), yaml);
    fs.writeFileSync(path.join(dir, 'token.txt'), 't');
    return loadProject({ files: [path.join(dir, 'compose.yml')], projectName: name, env: { TAG: '2' }, cwd: dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a compose service as a stack\'s swarm service: deploy settings, networks with compose\'s names, volumes, secrets and configs under the stack\'s names', () => {
  const p = project(`
services:
  web:
    image: busybox:\${TAG}
    command: httpd -f
    environment: [A=1]
    labels: { role: front }
    stop_grace_period: 2s
    healthcheck: { test: ["CMD", "true"], interval: 1s, retries: 2 }
    networks: { back: { aliases: [www] } }
    ports: [{ target: 80, published: 8080, mode: host }, "9000:90"]
    volumes: [data:/data, { type: tmpfs, target: /tmp }]
    secrets: [{ source: token, mode: 0400 }]
    deploy:
      replicas: 3
      labels: { team: a }
      resources: { limits: { cpus: "0.5", memory: 64M }, reservations: { memory: 16M } }
      restart_policy: { condition: on-failure, delay: 3s, max_attempts: 2 }
      placement: { constraints: [node.role==worker], preferences: [{ spread: node.labels.zone }], max_replicas_per_node: 1 }
      update_config: { parallelism: 2, order: start-first, failure_action: rollback, monitor: 5s }
  worker:
    image: busybox
    deploy: { mode: global }
networks: { back: {} }
volumes: { data: {} }
secrets: { token: { file: ./token.txt } }
`);
  const web = stackService(p, p.services.web) as any;
  assert.equal(web.Name, 'shop_web');
  assert.deepEqual(web.Labels, { team: 'a', [STACK_LABEL]: 'shop' });
  const c = web.TaskTemplate.ContainerSpec;
  assert.equal(c.Image, 'busybox:2');
  assert.deepEqual(c.Args, ['httpd', '-f']);
  assert.deepEqual(c.Env, ['A=1']);
  assert.deepEqual(c.Labels, { role: 'front', [STACK_LABEL]: 'shop' });
  assert.equal(c.StopGracePeriod, 2e9);
  assert.deepEqual(c.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9, Timeout: undefined, StartPeriod: undefined, Retries: 2 });
  assert.deepEqual(c.Mounts.map((m: any) => `${m.Type} ${m.Source ?? ''} ${m.Target}`), ['volume shop_data /data', 'tmpfs  /tmp']);
  assert.deepEqual(c.Secrets, [{ SecretName: 'shop_token', File: { Name: '/run/secrets/token', UID: '0', GID: '0', Mode: 0o400 } }]);
  assert.deepEqual(web.TaskTemplate.Networks, [{ Target: 'shop_back', Aliases: ['web', 'www'] }]);
  assert.deepEqual(web.TaskTemplate.Resources, { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 * 2 ** 20 }, Reservations: { NanoCPUs: undefined, MemoryBytes: 16 * 2 ** 20 } });
  assert.deepEqual(web.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 3e9, MaxAttempts: 2, Window: undefined });
  assert.deepEqual(web.TaskTemplate.Placement, { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 1 });
  assert.deepEqual(web.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(web.UpdateConfig, { Parallelism: 2, Delay: undefined, FailureAction: 'rollback', Monitor: 5e9, MaxFailureRatio: undefined, Order: 'start-first' });
  assert.deepEqual(web.EndpointSpec.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }, { Protocol: 'tcp', TargetPort: 90, PublishedPort: 9000, PublishMode: 'ingress' }]);
  const worker = stackService(p, p.services.worker) as any;
  assert.deepEqual(worker.Mode, { Global: {} });
  assert.deepEqual(worker.TaskTemplate.Networks, [{ Target: 'shop_default', Aliases: ['worker'] }]);
  assert.equal(objectName('shop', 'token', p.secrets.token), 'shop_token');
  assert.equal(objectName('shop', 'token', { ...p.secrets.token, name: 'shared', named: true }), 'shared');
  // A name the file gives is the name, even one equal to its key (docker stack does not prefix it).
  const named = project('services:\n  a:\n    image: busybox\n    secrets: [token]\nsecrets:\n  token: { name: token, file: ./token.txt }\n');
  assert.equal(objectName('shop', 'token', named.secrets.token), 'token');
});

test('what a stack cannot run is refused, naming the service', () => {
  assert.throws(() => { const p = project('services:\n  b:\n    build: .\n'); stackService(p, p.services.b); }, /service b: a stack runs images/);
  assert.throws(() => { const p = project('services:\n  h:\n    image: busybox\n    network_mode: host\n'); stackService(p, p.services.h); }, /service h: network_mode is not for a stack/);
  assert.throws(() => { const p = project('services:\n  g:\n    image: busybox\n    deploy: { mode: global, replicas: 2 }\n'); stackService(p, p.services.g); }, /replicas can only be used with replicated mode/);
});
