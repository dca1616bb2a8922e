import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunMount } from './run-mounts';

test("RUN --mount options parse as BuildKit's, with its defaults", () => {
  assert.deepEqual(parseRunMount('target=/src'), { type: 'bind', target: '/src', source: '/', from: undefined, readonly: true });
  assert.deepEqual(parseRunMount('type=bind,src=app,dst=code,rw', '/work'), { type: 'bind', target: '/work/code', source: 'app', from: undefined, readonly: false });
  assert.deepEqual(parseRunMount('type=bind,from=build,source=/out,target=/in,readonly=false'), { type: 'bind', target: '/in', source: '/out', from: 'build', readonly: false });
  assert.deepEqual(parseRunMount('type=cache,target=/root/.cache'), { type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'shared', readonly: false, mode: 0o755, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=cache,id=go,target=/go,sharing=locked,mode=0700,uid=1000,gid=1000,ro'), { type: 'cache', target: '/go', id: 'go', sharing: 'locked', readonly: true, mode: 0o700, uid: 1000, gid: 1000 });
  assert.deepEqual(parseRunMount('type=tmpfs,target=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 << 20 });
  assert.deepEqual(parseRunMount('type=secret,id=npm'), { type: 'secret', id: 'npm', target: '/run/secrets/npm', env: undefined, required: false, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=secret,target=/root/.npmrc,required'), { type: 'secret', id: '.npmrc', target: '/root/.npmrc', env: undefined, required: true, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=secret,id=tok,env=TOKEN'), { type: 'secret', id: 'tok', target: undefined, env: 'TOKEN', required: false, mode: 0o400, uid: 0, gid: 0 });
});

test('bad --mount options are refused, saying which', () => {
  const cases: [string, RegExp][] = [
    ['type=volume,target=/x', /unknown type volume/],
    ['type=ssh', /type=ssh is not supported/],
    ['type=cache', /needs a target/],
    ['type=cache,target=/x,sharing=sometimes', /sharing=sometimes: shared, private or locked/],
    ['type=cache,target=/x,from=build', /seeded from a stage.*not supported/],
    ['type=cache,target=/x,mode=rwx', /mode=rwx: an octal mode/],
    ['type=cache,target=/x,uid=root', /uid=root: a numeric id/],
    ['type=tmpfs,target=/x,source=y', /unexpected key 'source' for type tmpfs/],
    ['type=bind,target=/x,target=/y', /target is given twice/],
    ['type=bind,target=/x,ro=maybe', /ro*.*true or false/],
    ['type=secret', /needs an id/],
    ['type=tmpfs,target=/x,size=lots', /invalid size/],
  ];
  for (const [spec, re] of cases) assert.throws(() => parseRunMount(spec), re, spec);
});
