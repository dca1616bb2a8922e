import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { Authorizer, scopeOf } from './auth';
import type { RegistryError } from './errors';
import { parseRange } from './server';

const htpasswd = `# users\nalice:${bcrypt.hashSync('pw', 4)}\nbob:${bcrypt.hashSync('pw2', 4)}\n`;
const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
const rules = [
  { account: 'alice', name: '**', actions: ['pull', 'push'] as const },
  { account: '*', name: 'shared/*', actions: ['pull'] as const },
  { account: '', name: 'public/*', actions: ['pull'] as const },
].map((r) => ({ ...r, actions: [...r.actions] }));

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    return e as RegistryError;
  }
  throw new Error('expected a refusal');
}

test('rules: named accounts, any signed-in user, everyone', () => {
  const a = new Authorizer({ mode: 'basic', htpasswd, rules });
  const can = (who: string, name: string, action: 'pull' | 'push') => a.allowed(who, { type: 'repository', name, action });
  assert.equal(can('alice', 'x/y/z', 'push'), true);
  assert.equal(can('bob', 'shared/a', 'pull'), true);
  assert.equal(can('bob', 'shared/a', 'push'), false);
  assert.equal(can('', 'shared/a', 'pull'), false);
  assert.equal(can('', 'public/a', 'pull'), true);
  assert.equal(a.allowed('', { type: 'registry', name: 'catalog', action: '*' }), false);
  assert.equal(new Authorizer({ mode: 'none' }).allowed('', { type: 'repository', name: 'any', action: 'push' }), true);
});

test('htpasswd: only bcrypt lines; malformed rules are refused', () => {
  assert.throws(() => new Authorizer({ mode: 'basic', htpasswd: 'carol:{SHA}abc=\n' }), /line 1: only bcrypt/);
  assert.throws(() => new Authorizer({ mode: 'basic', htpasswd, rules: [{ account: 'x', name: 'y', actions: ['fly' as 'pull'] }] }), /access rule/);
  assert.throws(() => new Authorizer({ mode: 'token' }), /needs an htpasswd/);
});

test('basic: wrong credentials are challenged; a signed-in user without the right is denied', async () => {
  const a = new Authorizer({ mode: 'basic', htpasswd, rules });
  const need = [{ type: 'repository' as const, name: 'shared/a', action: 'push' as const }];
  const wrong = await failure(a.authorize(basic('alice', 'nope'), 'http://r', need));
  assert.deepEqual([wrong.code, wrong.headers['WWW-Authenticate']], ['UNAUTHORIZED', 'Basic realm="berth-registry"']);
  assert.equal((await failure(a.authorize(basic('bob', 'pw2'), 'http://r', need))).code, 'DENIED');
  assert.equal(await a.authorize(basic('alice', 'pw'), 'http://r', need), 'alice');
  // Remembered: the second check does not run bcrypt again, and still refuses a wrong password.
  assert.equal(await a.authorize(basic('alice', 'pw'), 'http://r', need), 'alice');
  assert.equal((await failure(a.authorize(basic('alice', 'pw '), 'http://r', need))).code, 'UNAUTHORIZED');
});

test('tokens carry the granted part of the scope; other services, expired and tampered tokens are refused', async () => {
  const key = Buffer.alloc(32, 1);
  const a = new Authorizer({ mode: 'token', htpasswd, rules, key });
  const { token, expires_in } = await a.issue(basic('bob', 'pw2'), 'http://r', ['repository:shared/a:pull,push', 'repository:private/x:pull']);
  assert.equal(expires_in, 300);
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  assert.deepEqual(claims.access, [{ type: 'repository', name: 'shared/a', actions: ['pull'] }]);
  const bearer = `Bearer ${token}`;
  assert.equal(await a.authorize(bearer, 'http://r', [{ type: 'repository', name: 'shared/a', action: 'pull' }]), 'bob');
  const scope = await failure(a.authorize(bearer, 'http://r', [{ type: 'repository', name: 'shared/a', action: 'push' }]));
  assert.equal(scope.headers['WWW-Authenticate'], 'Bearer realm="http://r/token",service="berth-registry",scope="repository:shared/a:push",error="insufficient_scope"');
  const other = new Authorizer({ mode: 'token', htpasswd, rules, key: Buffer.alloc(32, 2) });
  assert.equal((await failure(other.authorize(bearer, 'http://r', []))).code, 'UNAUTHORIZED');
  const elsewhere = new Authorizer({ mode: 'token', htpasswd, rules, key, service: 'another' });
  assert.equal((await failure(elsewhere.authorize(bearer, 'http://r', []))).code, 'UNAUTHORIZED');
  const expired = new Authorizer({ mode: 'token', htpasswd, rules, key, tokenTtlSeconds: -10 });
  const old = await expired.issue(basic('bob', 'pw2'), 'http://r', ['repository:shared/a:pull']);
  assert.equal((await failure(a.authorize(`Bearer ${old.token}`, 'http://r', [{ type: 'repository', name: 'shared/a', action: 'pull' }]))).code, 'UNAUTHORIZED');
  assert.equal((await failure(a.issue(basic('bob', 'pw2'), 'http://r', ['nonsense']))).status, 400);
});

test('scopes group actions per repository', () => {
  assert.equal(
    scopeOf([
      { type: 'repository', name: 'a', action: 'pull' },
      { type: 'repository', name: 'a', action: 'push' },
      { type: 'repository', name: 'b', action: 'pull' },
    ]),
    'repository:a:pull,push repository:b:pull',
  );
});

test('ranges: one span, open ends, suffixes; unsatisfiable past the end; others serve the whole blob', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=9-3', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
  assert.equal(parseRange(undefined, 100), undefined);
});
