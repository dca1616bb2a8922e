import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachTargets, ExitCode } from './attach';
import type { Project, Service } from './spec/model';

function project(deps: Record<string, string[]>, noAttach: string[] = []): Project {
  const services: Record<string, Service> = {};
  for (const [name, needs] of Object.entries(deps)) {
    services[name] = {
      name, image: 'busybox', environment: {}, env_file: [], labels: {}, links: [], volumes_from: [], networks: {}, ports: [], expose: [], volumes: [], secrets: [], configs: [], profiles: [],
      depends_on: Object.fromEntries(needs.map((n) => [n, { condition: 'service_started' as const, required: true, restart: false }])),
      ...(noAttach.includes(name) ? { attach: false } : {}),
    };
  }
  return { name: 'p', workingDir: '/', configFiles: [], services, disabled: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
}

const none = { services: [], attach: [], noAttach: [], dependencies: false };

test('attach: all services by default, less attach: false and --no-attach', () => {
  const p = project({ db: [], api: ['db'], web: ['api'], log: [] }, ['log']);
  assert.deepEqual(attachTargets(p, none), ['api', 'db', 'web']);
  assert.deepEqual(attachTargets(p, { ...none, noAttach: ['db'] }), ['api', 'web']);
});

test('attach: the named services alone, their dependencies with --attach-dependencies', () => {
  const p = project({ db: [], cache: [], api: ['db', 'cache'], web: ['api'] }, ['cache']);
  assert.deepEqual(attachTargets(p, { ...none, services: ['web'] }), ['web']);
  assert.deepEqual(attachTargets(p, { ...none, services: ['web'], dependencies: true }), ['api', 'db', 'web']);
});

test('attach: --attach is taken as given (even attach: false), and must name services of the project', () => {
  const p = project({ db: [], api: ['db'] }, ['db']);
  assert.deepEqual(attachTargets(p, { ...none, attach: ['db'] }), ['db']);
  assert.throws(() => attachTargets(p, { ...none, attach: ['nope'] }), /cannot attach to services not included in up: nope/);
  assert.throws(() => attachTargets(p, { ...none, attach: ['db'], dependencies: true }), /cannot combine --attach and --attach-dependencies/);
});

test('exit code: ignore keeps 0; stop takes the first exit; fail the first failure', () => {
  const ignore = new ExitCode('ignore');
  assert.equal(ignore.exited('a', 3), false);
  assert.equal(ignore.code, 0);

  const stop = new ExitCode('stop');
  assert.equal(stop.exited('a', 0), true);
  assert.equal(stop.exited('b', 4), false); // the project is already stopping
  assert.equal(stop.code, 0);

  const fail = new ExitCode('fail');
  assert.equal(fail.exited('a', 0), false);
  assert.equal(fail.exited('b', 7), true);
  assert.equal(fail.code, 7);
});

test('exit code: --exit-code-from wins over the cascade, whichever exits first', () => {
  const x = new ExitCode('stop', 'tests');
  assert.equal(x.exited('db', 137), true);
  assert.equal(x.code, 137);
  assert.equal(x.exited('tests', 2), false);
  assert.equal(x.exited('tests', 5), false); // its first exit counts
  assert.equal(x.code, 2);
});
