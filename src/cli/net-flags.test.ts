import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExpose, parsePublish } from './net-flags';

test('-p takes docker forms', () => {
  assert.deepEqual(parsePublish(['80']), { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  assert.deepEqual(parsePublish(['8080:80', '127.0.0.1:53:53/udp']), { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] });
  assert.deepEqual(parsePublish(['127.0.0.1::80']), { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  assert.deepEqual(parsePublish(['8000-8001:80-81']), { '80/tcp': [{ HostIp: '', HostPort: '8000' }], '81/tcp': [{ HostIp: '', HostPort: '8001' }] });
  assert.deepEqual(parsePublish(['8000-8010:80']), { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] });
  assert.deepEqual(parsePublish(['1:80', '2:80']), { '80/tcp': [{ HostIp: '', HostPort: '1' }, { HostIp: '', HostPort: '2' }] });
});

test('-p refuses what docker refuses', () => {
  assert.throws(() => parsePublish(['80/icmp']), /invalid proto/);
  assert.throws(() => parsePublish(['70000']), /containerPort/);
  assert.throws(() => parsePublish(['8000-8002:80-81']), /invalid ranges/);
  assert.throws(() => parsePublish(['x:1:2']), /invalid IP/);
  assert.throws(() => parsePublish(['abc']), /containerPort/);
});

test('--expose', () => {
  assert.deepEqual(parseExpose(['80', '53/udp', '90-91']), { '80/tcp': {}, '53/udp': {}, '90/tcp': {}, '91/tcp': {} });
});
