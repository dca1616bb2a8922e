import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInstruction } from './dockerfile';
import { applyMetadata, varsOf } from './metadata';

const apply = (line: string, base = {}, cmdSet = false) => applyMetadata(base, parseInstruction(line), varsOf(base, new Map([['V', 'arg']])), '\\', cmdSet);

test('ENV sees the values before the line; ENV wins over ARG', () => {
  const r = apply('ENV A=$V B=${A:-none}', { Env: ['V=env'] });
  assert.deepEqual(r.config.Env, ['V=env', 'A=env', 'B=none']);
  assert.equal(r.createdBy, '/bin/sh -c #(nop)  ENV A=env B=none');
});

test('ENTRYPOINT drops an inherited CMD but keeps one set in the stage', () => {
  assert.equal(apply('ENTRYPOINT ["x"]', { Cmd: ['sh'] }).config.Cmd, null);
  assert.deepEqual(apply('ENTRYPOINT ["x"]', { Cmd: ['sh'] }, true).config.Cmd, ['sh']);
  assert.deepEqual(apply('CMD echo $V', { Shell: ['/bin/bash', '-c'] }).config.Cmd, ['/bin/bash', '-c', 'echo $V'], 'shell form uses SHELL and is not expanded');
});

test('EXPOSE, WORKDIR, VOLUME, HEALTHCHECK, STOPSIGNAL', () => {
  assert.deepEqual(Object.keys(apply('EXPOSE 80 53/udp 8000-8002').config.ExposedPorts!), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
  assert.throws(() => apply('EXPOSE 99999'), /invalid port range/);
  assert.equal(apply('WORKDIR sub/$V', { WorkingDir: '/srv' }).config.WorkingDir, '/srv/sub/arg');
  assert.deepEqual(apply('VOLUME ["/a", "/b"]').config.Volumes, { '/a': {}, '/b': {} });
  assert.deepEqual(apply('HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f x').config.Healthcheck, { Test: ['CMD-SHELL', 'curl -f x'], Interval: 90e9, Retries: 3 });
  assert.deepEqual(apply('HEALTHCHECK NONE').config.Healthcheck, { Test: ['NONE'] });
  assert.throws(() => apply('HEALTHCHECK --interval=soon CMD x'), /invalid duration/);
  assert.throws(() => apply('STOPSIGNAL not a signal'), /invalid signal/);
  assert.throws(() => apply('SHELL /bin/bash'), /JSON form/);
  assert.throws(() => apply('ONBUILD FROM x'), /isn't allowed as an ONBUILD trigger/);
});
