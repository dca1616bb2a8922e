import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NET_PROBE_SCRIPT, parseNetProbe, probeNetParts } from './probes';

test('the network probe tries each part and reads back ok/no lines', async () => {
  for (const part of ['veth', 'tbf', 'htb', 'fq_codel', 'ingress', 'ifb', 'u32Mirred', 'masquerade', 'dnat', 'conntrack', 'nftables']) assert.match(NET_PROBE_SCRIPT, new RegExp(`^t ${part} `, 'm'));
  const f = parseNetProbe('ok veth\nok tbf\nok htb\nno fq_codel\nno sfq\nok ingress\nok ifb\nok u32Mirred\nok masquerade\nok dnat\nno conntrack\nno nftables\n');
  assert.deepEqual(f.qdiscs, { tbf: true, htb: true, ingress: true, fq_codel: false, sfq: false, prio: false, hfsc: false });
  assert.deepEqual([f.veth, f.ifb, f.u32Mirred, f.nftables], [true, true, true, false]);
  assert.deepEqual(f.iptables, { masquerade: true, dnat: true, conntrack: false });
});

test('a probe that cannot run says why and claims nothing', async () => {
  const f = await probeNetParts(async () => {
    throw new Error('unshare: unshare failed: Operation not permitted');
  });
  assert.match(f.error ?? '', /Operation not permitted/);
  assert.deepEqual([f.veth, f.qdiscs.tbf, f.iptables.dnat], [false, false, false]);
});
