import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyChanges } from './changes';

test('changes set config fields as docker does', () => {
  const c = applyChanges({ Env: ['A=1'] }, [
    'CMD ["/bin/sh"]',
    'ENTRYPOINT echo hi',
    'ENV A=2 B="x y"',
    'LABEL k=v',
    'EXPOSE 80 53/udp',
    'WORKDIR /srv',
    'USER nobody',
  ]);
  assert.deepEqual(c.Cmd, ['/bin/sh']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(c.Env, ['A=2', 'B=x y']);
  assert.deepEqual(c.Labels, { k: 'v' });
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['80/tcp', '53/udp']);
  assert.equal(c.WorkingDir, '/srv');
  assert.equal(c.User, 'nobody');
});

test('unknown change instructions are refused', () => {
  assert.throws(() => applyChanges({}, ['RUN ls']), /RUN is not a valid change command/);
});
