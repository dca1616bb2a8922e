import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolvConf } from './etc-files';

const HOST = 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0\n';

test('resolv.conf on a user network points at its DNS server; --dns flags become its upstreams, search and options stay', () => {
  assert.equal(resolvConf({ hostNetwork: false, nameserver: '172.20.0.1' }, HOST), 'nameserver 172.20.0.1\nsearch corp.example\noptions edns0\n');
  assert.equal(resolvConf({ hostNetwork: false, nameserver: '172.20.0.1', dns: ['9.9.9.9'], dnsSearch: ['a.test'] }, HOST), 'nameserver 172.20.0.1\nsearch a.test\noptions edns0\n');
});

test("resolv.conf elsewhere: the flags, else the host's without loopback resolvers (host mode keeps them)", () => {
  assert.equal(resolvConf({ hostNetwork: false, dns: ['9.9.9.9'], dnsOptions: ['ndots:2'] }, HOST), 'nameserver 9.9.9.9\noptions ndots:2\n');
  assert.equal(resolvConf({ hostNetwork: false }, HOST), 'nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n');
  assert.equal(resolvConf({ hostNetwork: true }, HOST), HOST);
});
