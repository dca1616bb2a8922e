import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBind, planMounts, runtimeMounts } from './mounts';

test('-v forms: anonymous, named, bind with modes', () => {
  assert.equal(parseBind('/data').anonymous, true);
  const named = parseBind('cache:/cache:ro');
  assert.deepEqual([named.Type, named.Name, named.RW], ['volume', 'cache', false]);
  const bind = parseBind('/host/dir:/in:rw,rshared');
  assert.deepEqual([bind.Type, bind.Source, bind.Destination, bind.Propagation], ['bind', '/host/dir', '/in', 'rshared']);
});

test('bad -v strings are refused', () => {
  assert.throws(() => parseBind('./rel:/x'), /use absolute path/);
  assert.throws(() => parseBind('/a:rel'), /must be absolute/);
  assert.throws(() => parseBind('/a:/'), /can't be '\/'/);
  assert.throws(() => parseBind('/a:/b:bogus'), /invalid mode/);
});

test('image volumes become anonymous unless mounted; duplicates refused', () => {
  const m = planMounts({ Binds: ['v1:/data'], Tmpfs: { '/run': 'size=1m' } }, { '/data': {}, '/logs': {} });
  assert.deepEqual(m.map((x) => [x.Destination, x.Type, !!x.anonymous]), [['/data', 'volume', false], ['/run', 'tmpfs', false], ['/logs', 'volume', true]]);
  assert.throws(() => planMounts({ Binds: ['/a:/x', '/b:/x'] }, {}), /Duplicate mount point/);
});

test('runtime mounts carry ro and tmpfs defaults', () => {
  const [t, b] = runtimeMounts([
    { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '', tmpfsOptions: ['exec', 'size=1m'] },
    { Type: 'bind', Source: '/s', Destination: '/d', Mode: 'ro', RW: false, Propagation: 'rprivate' },
  ]);
  assert.deepEqual(t.options, ['nosuid', 'nodev', 'exec', 'size=1m']);
  assert.deepEqual(b.options, ['rbind', 'rprivate', 'ro']);
});
