import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseRules, describeRule, missingRules, networkRules, parseRules, ruleInterfaces, savedRules } from './firewall';

// What iptables 1.8 (nf_tables) prints for `iptables -S BERTH-FORWARD` with one network on br-1.
const LISTING = `-N BERTH-FORWARD
-A BERTH-FORWARD -o br-1 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "berth:0123abcd" -j ACCEPT
-A BERTH-FORWARD -o br-1 -m conntrack --ctstate DNAT -m comment --comment "berth:0123abcd" -j ACCEPT
-A BERTH-FORWARD -i br-1 -m comment --comment "berth:0123abcd" -j ACCEPT
`;

test('a listing parses into the rules that were added, in order', () => {
  const parsed = parseRules('filter', 'BERTH-FORWARD', LISTING);
  const added = networkRules({ bridge: 'br-1', subnet: '10.1.0.0/24', internal: false, owner: 'berth:0123abcd' }).filter((r) => r.chain === 'BERTH-FORWARD');
  assert.deepEqual(parsed, added);
  assert.equal(describeRule(parsed[2]), '-A BERTH-FORWARD -i br-1 -m comment --comment berth:0123abcd -j ACCEPT');
});

test('the chain line, blank lines and other chains are not rules of the chain', () => {
  assert.deepEqual(parseRules('filter', 'BERTH-ISOLATION', LISTING), []);
  assert.deepEqual(parseRules('nat', 'BERTH-POSTROUTING', '-N BERTH-POSTROUTING\n\n'), []);
});

test('a rule names the interfaces it matches, negated or not', () => {
  const [isolation, , , , , masquerade] = networkRules({ bridge: 'br-2', subnet: '10.2.0.0/24', internal: false, owner: 'berth:0123abcd' });
  assert.deepEqual(ruleInterfaces(isolation), ['br-2']);
  assert.deepEqual(ruleInterfaces(masquerade), ['br-2']);
  assert.equal(describeRule(masquerade), '-t nat -A BERTH-POSTROUTING -s 10.2.0.0/24 ! -o br-2 -m comment --comment berth:0123abcd -j MASQUERADE');
  assert.deepEqual(ruleInterfaces({ table: 'filter', chain: 'BERTH-ISOLATION', args: ['-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'RETURN'] }), []);
});

test('without a mark the rules are the plain ones that daemons before marks made', () => {
  const [isolation] = networkRules({ bridge: 'br-3', subnet: '10.3.0.0/24', internal: false, owner: '' });
  assert.deepEqual(isolation.args, ['-i', 'br-3', '!', '-o', 'br-3', '-j', 'BERTH-ISOLATION-2']);
});

test('a dual-stack network has the same rules in ip6tables, its IPv6 subnet masqueraded', () => {
  const n = { bridge: 'br-6', subnet: '10.6.0.0/24', internal: false, owner: 'berth:0123abcd' };
  const v4 = networkRules(n);
  const both = networkRules({ ...n, subnet6: 'fd00:6::/64' });
  assert.deepEqual(both.slice(0, v4.length), v4, 'the IPv4 rules are unchanged');
  const v6 = both.slice(v4.length);
  assert.deepEqual(v6.map((r) => ({ ...r, family: undefined, args: r.args.map((a) => (a === 'fd00:6::/64' ? '10.6.0.0/24' : a)) })), v4.map((r) => ({ ...r, family: undefined })));
  assert.ok(v6.every((r) => r.family === 6));
  assert.equal(describeRule(v6[v6.length - 1]), 'ip6tables -t nat -A BERTH-POSTROUTING -s fd00:6::/64 ! -o br-6 -m comment --comment berth:0123abcd -j MASQUERADE');
});

test("a saved ruleset tells which of a network's rules someone else removed", () => {
  const n = { bridge: 'br-7', subnet: '10.7.0.0/24', internal: false, owner: 'berth:0123abcd' };
  const want = [...baseRules(4), ...networkRules(n)];
  const full = ['*filter', ':FORWARD DROP [0:0]', '-A FORWARD -j BERTH-ISOLATION', '-A FORWARD -j BERTH-FORWARD', '-A BERTH-ISOLATION -m conntrack --ctstate DNAT -j RETURN',
    ...networkRules(n).filter((r) => r.table === 'filter').map((r) => describeRule(r).replace(/--comment (\S+)/, '--comment "$1"')), 'COMMIT', '*nat', '-A POSTROUTING -j BERTH-POSTROUTING',
    ...networkRules(n).filter((r) => r.table === 'nat').map((r) => describeRule(r).replace(/^-t nat /, '').replace(/--comment (\S+)/, '--comment "$1"')), 'COMMIT'].join('\n');
  assert.deepEqual(missingRules(savedRules(full), want), []);
  // iptables -t nat -F: the jump and the masquerade are gone; -F of filter: the jumps and the chains' rules.
  const natFlushed = full.split('\n').filter((l) => !(l.includes('POSTROUTING') && l.startsWith('-A'))).join('\n');
  assert.deepEqual(missingRules(savedRules(natFlushed), want).map((r) => r.chain), ['POSTROUTING', 'BERTH-POSTROUTING']);
  assert.equal(missingRules(savedRules(''), want).length, want.length);
});
