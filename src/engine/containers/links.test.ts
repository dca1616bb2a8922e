import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkEnv, linkString, parseLink } from './links';

test('links: the forms clients send and the one docker keeps', () => {
  assert.deepEqual(parseLink('db'), { target: 'db', alias: 'db' });
  assert.deepEqual(parseLink('web-db:db'), { target: 'web-db', alias: 'db' });
  assert.deepEqual(parseLink('/web-db:/app/db'), { target: 'web-db', alias: 'db' });
  assert.equal(linkString(parseLink('web-db:db'), 'app'), '/web-db:/app/db');
  assert.throws(() => parseLink('a:b:c'), /invalid link format/);
  assert.throws(() => parseLink(':x'), /invalid link format/);
});

test("link environment as docker's: the default port, each port, runs of ports, the name, the target's env", () => {
  const env = linkEnv('app', 'my-db', { name: 'db', ip: '172.17.0.2', ports: ['5432/tcp', '53/udp', '53/tcp', '8000/tcp', '8001/tcp'], env: ['PATH=/bin', 'HOME=/root', 'PGVER=15'] });
  assert.deepEqual(env, [
    'MY_DB_PORT=tcp://172.17.0.2:53',
    'MY_DB_PORT_53_TCP=tcp://172.17.0.2:53', 'MY_DB_PORT_53_TCP_ADDR=172.17.0.2', 'MY_DB_PORT_53_TCP_PORT=53', 'MY_DB_PORT_53_TCP_PROTO=tcp',
    'MY_DB_PORT_53_UDP=udp://172.17.0.2:53', 'MY_DB_PORT_53_UDP_ADDR=172.17.0.2', 'MY_DB_PORT_53_UDP_PORT=53', 'MY_DB_PORT_53_UDP_PROTO=udp',
    'MY_DB_PORT_5432_TCP=tcp://172.17.0.2:5432', 'MY_DB_PORT_5432_TCP_ADDR=172.17.0.2', 'MY_DB_PORT_5432_TCP_PORT=5432', 'MY_DB_PORT_5432_TCP_PROTO=tcp',
    'MY_DB_PORT_8000_TCP_START=tcp://172.17.0.2:8000', 'MY_DB_PORT_8000_TCP_ADDR=172.17.0.2', 'MY_DB_PORT_8000_TCP_PORT_START=8000', 'MY_DB_PORT_8000_TCP_PORT_END=8001',
    'MY_DB_PORT_8000_TCP=tcp://172.17.0.2:8000', 'MY_DB_PORT_8000_TCP_ADDR=172.17.0.2', 'MY_DB_PORT_8000_TCP_PORT=8000', 'MY_DB_PORT_8000_TCP_PROTO=tcp',
    'MY_DB_PORT_8001_TCP=tcp://172.17.0.2:8001', 'MY_DB_PORT_8001_TCP_ADDR=172.17.0.2', 'MY_DB_PORT_8001_TCP_PORT=8001', 'MY_DB_PORT_8001_TCP_PROTO=tcp',
    'MY_DB_NAME=/app/my-db',
    'MY_DB_ENV_PGVER=15',
  ]);
  assert.deepEqual(linkEnv('app', 'x', { name: 'x', ip: '1.2.3.4', ports: [], env: [] }), ['X_NAME=/app/x']);
});
