import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromDockerSpec } from './docker-shape';
import { filterObjects, planObject, toDockerObject } from './objects';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('secrets and configs: names, content and drivers checked as swarm checks them; a secret\'s data is never shown back', () => {
  const s = planObject('secret', { Name: 'db.pass', Labels: { a: '1' }, Data: b64('hunter2') });
  assert.equal(Buffer.from(s.data, 'base64').toString(), 'hunter2');
  const shown = toDockerObject('secret', { ...s, index: 7 });
  assert.deepEqual(shown.Spec, { Name: 'db.pass', Labels: { a: '1' } });
  assert.equal(shown.Version.Index, 7);
  assert.equal(toDockerObject('config', { ...s, index: 7 }).Spec.Data, b64('hunter2'));
  // An empty config is fine; an empty secret is not.
  assert.equal(planObject('config', { Name: 'empty' }).data, '');
  for (const [spec, message] of [
    [{ Name: 'bad name', Data: b64('x') }, /invalid name/],
    [{ Name: '-x', Data: b64('x') }, /invalid name/],
    [{ Name: 'x'.repeat(65), Data: b64('x') }, /invalid name/],
    [{ Name: 'ok' }, /secret data must be larger than 0/],
    [{ Name: 'ok', Data: b64('x'.repeat(500 * 1024 + 1)) }, /less than 500 KiB/],
    [{ Name: 'ok', Data: 'not base64!' }, /not base64/],
    [{ Name: 'ok', Data: b64('x'), Driver: { Name: 'vault' } }, /drivers .* not supported/],
  ] as const) assert.throws(() => planObject('secret', spec), message);
});

test('filters: id prefix, name prefix, exact names, labels', () => {
  const list = [{ ...planObject('secret', { Name: 'app_db', Labels: { stack: 'app' }, Data: b64('1') }), index: 1 }, { ...planObject('secret', { Name: 'app_api', Data: b64('2') }), index: 2 }];
  assert.deepEqual(filterObjects(list, { name: ['app_'] }).map((o) => o.name), ['app_db', 'app_api']);
  assert.deepEqual(filterObjects(list, { names: ['app_api'] }).map((o) => o.name), ['app_api']);
  assert.deepEqual(filterObjects(list, { label: ['stack=app'] }).map((o) => o.name), ['app_db']);
  assert.deepEqual(filterObjects(list, { id: [list[1].id.slice(0, 5)] }).map((o) => o.name), ['app_api']);
  assert.throws(() => filterObjects(list, { driver: ['x'] }), /invalid filter 'driver'/);
});

test('a service\'s secrets and configs become files: a secret\'s relative target under /run/secrets, a config\'s under /; by id or name; each target once', () => {
  const secret = planObject('secret', { Name: 'token', Data: b64('t') });
  const config = planObject('config', { Name: 'app.conf', Data: b64('c') });
  const named = { networks: [], secrets: [secret], configs: [config] };
  const s = fromDockerSpec({
    Name: 'web',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: secret.id, SecretName: 'token', File: { Name: 'token', UID: '1000', GID: '1000', Mode: 0o400 } }], Configs: [{ ConfigName: 'app.conf', File: { Name: '/etc/app.conf' } }] } },
  }, named);
  assert.deepEqual(s.container.files, [
    { kind: 'secret', id: secret.id, target: '/run/secrets/token', uid: 1000, gid: 1000, mode: 0o400 },
    { kind: 'config', id: config.id, target: '/etc/app.conf', uid: 0, gid: 0, mode: 0o444 },
  ]);
  const spec = (c: object) => ({ Name: 'w', TaskTemplate: { ContainerSpec: { Image: 'busybox', ...c } } });
  assert.deepEqual(fromDockerSpec(spec({ Configs: [{ ConfigName: 'app.conf' }] }), named).container.files?.[0].target, '/app.conf');
  assert.throws(() => fromDockerSpec(spec({ Secrets: [{ SecretName: 'nosuch' }] }), named), /secret not found: nosuch/);
  assert.throws(() => fromDockerSpec(spec({ Secrets: [{ SecretName: 'token', File: { Name: '../x' } }] }), named), /no "\.\." in it/);
  assert.throws(() => fromDockerSpec(spec({ Secrets: [{ SecretName: 'token', File: { Name: 'a' } }, { SecretName: 'token', File: { Name: 'a' } }] }), named), /file references conflict: \/run\/secrets\/a/);
  assert.throws(() => fromDockerSpec(spec({ Secrets: [{ SecretName: 'token', File: { Name: 'a', UID: 'root' } }] }), named), /invalid secret file uid "root"/);
});
