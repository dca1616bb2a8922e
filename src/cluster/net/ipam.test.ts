import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../base/seeded';
import { contains, hostRange, parseCidr, parseIp } from '../../network/subnet';
import { addressTasks, allocate, chooseSubnet, chooseVni, FIRST_VNI } from './ipam';

test('subnets: the first free /24 of 10.0.0.0/8 after the ingress one, past the cluster\'s and the host\'s; a given one checked', () => {
  assert.deepEqual(chooseSubnet({}, [], []), { subnet: '10.0.1.0/24', gateway: '10.0.1.1' });
  assert.deepEqual(chooseSubnet({}, ['10.0.1.0/24', '10.0.3.0/24'], [parseCidr('10.0.2.0/24')]), { subnet: '10.0.4.0/24', gateway: '10.0.4.1' });
  assert.deepEqual(chooseSubnet({ subnet: '10.20.0.0/16', gateway: '10.20.0.254' }, ['10.0.1.0/24'], []), { subnet: '10.20.0.0/16', gateway: '10.20.0.254' });
  assert.throws(() => chooseSubnet({ subnet: '10.0.1.128/25' }, ['10.0.1.0/24'], []), /Pool overlaps with other one on this address space \(10\.0\.1\.0\/24\)/);
  assert.throws(() => chooseSubnet({ subnet: '10.9.0.0/16', gateway: '10.8.0.1' }, [], []), /no matching subnet for gateway 10\.8\.0\.1/);
  assert.throws(() => chooseSubnet({ gateway: '10.8.0.1' }, [], []), /a gateway needs a subnet/);
  assert.throws(() => chooseSubnet({ subnet: '10.9.0.0/30' }, [], []), /too small/);
});

test('VXLAN ids: the lowest one free from 4097', () => {
  assert.equal(chooseVni([]), FIRST_VNI);
  assert.equal(chooseVni([4097, 4099]), 4098);
  assert.equal(chooseVni([4098]), 4097);
});

test('addresses: never the gateway or a live holder\'s; never-held ones before ended ones, the longest ended first; short when full', () => {
  const space = { id: 'n', subnet: '10.0.1.0/29', gateway: '10.0.1.1' };
  assert.deepEqual(allocate(space, [], 3), ['10.0.1.2', '10.0.1.3', '10.0.1.4']);
  const holders = [{ ip: '10.0.1.2', live: false }, { ip: '10.0.1.3', live: true }, { ip: '10.0.1.4', live: false }];
  assert.deepEqual(allocate(space, holders, 3), ['10.0.1.5', '10.0.1.6', '10.0.1.2']);
  // An address ended once and held again now is taken.
  assert.deepEqual(allocate(space, [...holders, { ip: '10.0.1.2', live: true }], 4), ['10.0.1.5', '10.0.1.6', '10.0.1.4']);
  assert.deepEqual(allocate(space, [], 0), []);
});

test('generated: 2,000 rounds of tasks made and ended on three networks never share a live address, and fill each subnet before coming short', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = seededRandom(seed);
    const spaces = [
      { id: 'a', subnet: '10.0.1.0/28', gateway: '10.0.1.1' },
      { id: 'b', subnet: '10.0.2.0/27', gateway: '10.0.2.30' },
      { id: 'c', subnet: '10.0.3.0/24', gateway: '10.0.3.1' },
    ];
    const capacity = new Map(spaces.map((s) => [s.id, hostRange(parseCidr(s.subnet)).last - hostRange(parseCidr(s.subnet)).first]));
    const tasks: { id: string; addresses: Record<string, string>; live: boolean; networks: string[] }[] = [];
    for (let round = 0; round < 100; round++) {
      for (const t of tasks) if (t.live && rnd() < 0.3) t.live = false;
      const requests = Array.from({ length: Math.floor(rnd() * 6) }, (_, i) => ({ taskId: `t${round}.${i}`, networks: spaces.filter(() => rnd() < 0.6).map((s) => s.id) }));
      const got = addressTasks(spaces, tasks, requests);
      for (const r of requests) {
        const addresses = got.get(r.taskId)!;
        assert.ok(Object.keys(addresses).every((n) => r.networks.includes(n)), `seed ${seed}: an address only on a network asked for`);
        tasks.push({ id: r.taskId, addresses, live: true, networks: r.networks });
      }
      for (const s of spaces) {
        const subnet = parseCidr(s.subnet);
        const live = tasks.filter((t) => t.live && t.addresses[s.id]).map((t) => t.addresses[s.id]);
        assert.equal(new Set(live).size, live.length, `seed ${seed} round ${round}: a live address twice on ${s.id}`);
        for (const ip of live) {
          assert.ok(contains(subnet, parseIp(ip)) && ip !== s.gateway, `seed ${seed}: ${ip} outside ${s.subnet} or the gateway`);
          const { first, last } = hostRange(subnet);
          assert.ok(parseIp(ip) >= first && parseIp(ip) <= last, `seed ${seed}: ${ip} is the network or broadcast address`);
        }
        // A live task that asked and got nothing: only when every other address was live.
        const short = tasks.filter((t) => t.live && t.networks.includes(s.id) && !t.addresses[s.id] && t.id.startsWith(`t${round}.`));
        if (short.length) assert.equal(live.length, capacity.get(s.id), `seed ${seed} round ${round}: ${s.id} came short before it was full`);
      }
    }
  }
});
