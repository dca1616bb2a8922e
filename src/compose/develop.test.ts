import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { seededRandom } from '../base/seeded';
import { Debouncer, planBatch, watchRules } from './develop';
import type { Project, Service, WatchAction, WatchTrigger } from './spec/model';

function service(name: string, watch: Partial<WatchTrigger>[], build?: string): Service {
  return {
    name, image: name, environment: {}, env_file: [], labels: {}, depends_on: {}, links: [], volumes_from: [], networks: {}, ports: [], expose: [], volumes: [], secrets: [], configs: [], profiles: [],
    ...(build ? { build: { context: build, args: {}, labels: {}, cache_from: [] } } : {}),
    develop: { watch: watch.map((w) => ({ action: 'sync', path: '/src', ignore: [], include: [], initial_sync: false, ...w }) as WatchTrigger) },
  };
}

function project(...services: Service[]): Project {
  return { name: 'p', workingDir: '/src', configFiles: [], services: Object.fromEntries(services.map((s) => [s.name, s])), disabled: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
}

const noIgnore = () => [];

test('watch: a sync maps a changed path under the rule to the target; outside it, nothing', () => {
  const rules = watchRules(project(service('web', [{ path: '/src/web', target: '/app' }])), [], noIgnore);
  const plan = planBatch(rules, ['/src/web/index.html', '/src/web/js/app.js', '/src/other/x', '/src/webby/y']);
  assert.deepEqual(plan.sync.get('web')!.map((m) => [m.hostPath, m.containerPath]), [
    ['/src/web/index.html', '/app/index.html'],
    ['/src/web/js/app.js', '/app/js/app.js'],
  ]);
  assert.deepEqual([plan.rebuild, plan.restart, [...plan.exec]], [[], [], []]);
});

test('watch: ignore and include patterns are the rule\'s, relative to its path; editors\' scratch files and .git never count', () => {
  const rules = watchRules(project(service('web', [{ path: '/src', target: '/app', ignore: ['node_modules/', '*.log'], include: ['**/*.js', '**/*.log', 'node_modules'] }])), [], noIgnore);
  const plan = planBatch(rules, ['/src/a.js', '/src/lib/b.js', '/src/c.css', '/src/debug.log', '/src/node_modules/x.js', '/src/.a.js.swp', '/src/.git/HEAD', '/src/d.js~']);
  assert.deepEqual(plan.sync.get('web')!.map((m) => m.containerPath), ['/app/a.js', '/app/lib/b.js']);
});

test('watch: what the build context\'s .dockerignore leaves out triggers no rebuild', () => {
  const rules = watchRules(project(service('api', [{ path: '/src/api', action: 'rebuild' }], '/src/api')), [], () => ['tmp/', 'README.md']);
  assert.deepEqual(planBatch(rules, ['/src/api/tmp/cache', '/src/api/README.md']).rebuild, []);
  assert.deepEqual(planBatch(rules, ['/src/api/tmp/cache', '/src/api/main.go']).rebuild, ['api']);
});

test('watch: each action, and an exec hook once per rule however many paths matched', () => {
  const rules = watchRules(project(
    service('a', [{ path: '/src/a', target: '/a', action: 'sync+restart' }]),
    service('b', [{ path: '/src/b', action: 'restart' }, { path: '/src/b', target: '/b', action: 'sync+exec', exec: { command: ['kill', '-HUP', '1'], environment: {} } }]),
  ), [], noIgnore);
  const plan = planBatch(rules, ['/src/a/1', '/src/a/2', '/src/b/1', '/src/b/2', '/src/b/1']);
  assert.deepEqual(plan.restart, ['a', 'b']);
  assert.deepEqual(plan.sync.get('a')!.length, 2);
  assert.deepEqual(plan.sync.get('b')!.map((m) => m.containerPath), ['/b/1', '/b/2'], 'a path changed twice in a batch is synced once');
  assert.deepEqual(plan.exec.get('b')!.map((r) => r.trigger.exec!.command), [['kill', '-HUP', '1']]);
});

test('watch: the services named alone; rules that cannot work are refused before anything is made', () => {
  const p = project(service('web', [{ path: '/src/web', target: '/app' }]), service('api', [{ path: '/src/api', action: 'rebuild' }], '/src/api'), { ...service('db', []), develop: undefined });
  assert.deepEqual(watchRules(p, ['web'], noIgnore).map((r) => r.service), ['web']);
  assert.throws(() => watchRules(p, ['db'], noIgnore), /none of the selected services is configured for watch/);
  assert.throws(() => watchRules(p, ['nope'], noIgnore), /no such service: nope/);
  assert.throws(() => watchRules(project(service('w', [{ path: '/s' }])), [], noIgnore), /service "w": develop.watch\[0\]: a sync rule needs a target/);
  assert.throws(() => watchRules(project(service('w', [{ path: '/s', action: 'rebuild' }])), [], noIgnore), /service "w" has no build section/);
  assert.throws(() => watchRules(project(service('w', [{ path: '/s', target: '/t', action: 'sync+exec' }])), [], noIgnore), /needs exec.command/);
});

test('watch: generated batches against generated rules keep the planner\'s promises', () => {
  const rnd = seededRandom(17);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const dirs = ['/w', '/w/a', '/w/a/b', '/w/c', '/w/c/d'];
  const names = ['x.js', 'y.go', 'z.log', '.z.swp', 'n', 'README.md'];
  const actions: WatchAction[] = ['sync', 'rebuild', 'restart', 'sync+restart', 'sync+exec'];
  for (let round = 0; round < 2000; round++) {
    const services = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => {
      const triggers = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (): Partial<WatchTrigger> => {
        const action = pick(actions);
        return { path: pick(dirs), action, target: `/t${Math.floor(rnd() * 3)}`, ignore: rnd() < 0.5 ? ['*.log'] : [], exec: action === 'sync+exec' ? { command: ['true'], environment: {} } : undefined };
      });
      return service(`s${i}`, triggers, '/w');
    });
    const rules = watchRules(project(...services), [], () => ['README.md']);
    const changed = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => path.join(pick(dirs), pick(names)));
    const plan = planBatch(rules, changed);
    const touched = (r: (typeof rules)[number]) => changed.some((c) => {
      const rel = path.relative(r.trigger.path, c);
      const base = path.basename(c);
      return !rel.startsWith('..') && base !== '.z.swp' && c !== '/w/README.md' && !(r.trigger.ignore.includes('*.log') && rel === base && base.endsWith('.log'));
    });
    for (const s of services) {
      const mine = rules.filter((r) => r.service === s.name);
      assert.equal(plan.rebuild.includes(s.name), mine.some((r) => r.trigger.action === 'rebuild' && touched(r)), `round ${round}: rebuild of ${s.name}`);
      assert.equal(plan.restart.includes(s.name), mine.some((r) => (r.trigger.action === 'restart' || r.trigger.action === 'sync+restart') && touched(r)), `round ${round}: restart of ${s.name}`);
      const synced = plan.sync.get(s.name) ?? [];
      assert.equal(new Set(synced.map((m) => m.containerPath)).size, synced.length, 'a container path once');
      for (const m of synced) {
        assert.ok(m.rule.trigger.action.startsWith('sync'));
        assert.equal(m.containerPath, path.posix.join(m.rule.trigger.target!, path.relative(m.rule.trigger.path, m.hostPath)));
        assert.ok(!m.hostPath.endsWith('.swp') && m.hostPath !== '/w/README.md', 'scratch files and what .dockerignore leaves out are never synced');
      }
    }
  }
});

test('watch: a burst of changes is one batch once it pauses', async () => {
  const batches: string[][] = [];
  const d = new Debouncer(40, (b) => batches.push(b.sort()));
  d.add('/a');
  await new Promise((r) => setTimeout(r, 10));
  d.add('/b');
  d.add('/a');
  await new Promise((r) => setTimeout(r, 100));
  d.add('/c');
  await new Promise((r) => setTimeout(r, 100));
  d.close();
  assert.deepEqual(batches, [['/a', '/b'], ['/c']]);
});
