import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admissionError, type Bandwidth, fairShares, type HtbClass, planLink } from './bandwidth';
import { seededRandom as rng } from '../base/seeded';

const M = 1e6;

test('admission: a guarantee above the link, and the sum over it, are refused with the figures', () => {
  assert.equal(admissionError(100 * M, [20 * M, 60 * M], 20 * M, 'eth0'), undefined);
  assert.match(admissionError(100 * M, [], 200 * M, 'eth0')!, /200Mbit is above the capacity of the shared link eth0 \(100Mbit\)/);
  assert.match(admissionError(100 * M, [20 * M, 60 * M], 30 * M, 'eth0')!, /80Mbit of its 100Mbit are guaranteed to running containers, 20Mbit are free/);
});

const member = (minor: number, guarantee: number, priority = 0, limit = 0) => ({ minor, bw: { guarantee, limit, priority } });

test('the plan: guarantees as rates, limits as ceils, priorities reversed into HTB prio, quanta by guarantee', () => {
  const p = planLink(100 * M, [member(0x10, 20 * M, 1), member(0x11, 60 * M, 0, 80 * M), member(0x12, 0, 7)]);
  assert.deepEqual(p.classes.map((c) => [c.minor, c.rate, c.ceil, c.prio]), [
    [0x10, 20 * M, 100 * M, 6],
    [0x11, 60 * M, 80 * M, 7],
    [0x12, 8000, 100 * M, 0],
  ]);
  // The host's class keeps what is not guaranteed, at the lowest priority.
  assert.deepEqual([p.fallback.minor, p.fallback.rate, p.fallback.prio], [0xffff, 20 * M, 7]);
  // 1% of the link weighs least: 64 KiB; 20 Mbit/s is 20 times that.
  assert.equal(p.classes[2].quantum, 64 * 1024);
  assert.equal(p.classes[0].quantum, 20 * 64 * 1024);
  assert.equal(p.classes[1].quantum, 60 * 64 * 1024);
  for (const c of [p.root, p.fallback, ...p.classes]) assert.ok(c.burst >= 64 * 1024 && c.cburst >= c.burst || c.cburst >= 64 * 1024);
});

test('the host keeps a floor when containers hold the whole link, and a limit above the link is the link', () => {
  const p = planLink(100 * M, [member(0x10, 100 * M, 0, 10_000 * M)]);
  assert.equal(p.fallback.rate, 8000);
  assert.equal(p.classes[0].ceil, 100 * M);
});

test('fair shares: the examples of the issue', () => {
  const p = planLink(100 * M, [member(0x10, 20 * M), member(0x11, 60 * M), member(0x12, 10 * M)]);
  const [a, b, c] = p.classes;
  const all = (cls: HtbClass[]) => fairShares(100 * M, cls.map((x) => ({ cls: x, demand: Infinity }))).map((r) => +(r / M).toFixed(1));
  // 90 guaranteed, 10 borrowed in proportion 2:6:1.
  assert.deepEqual(all([a, b, c]), [22.2, 66.7, 11.1]);
  assert.deepEqual(all([a, b]), [25, 75]);
  assert.deepEqual(all([b]), [100]);
  // Priority: the higher borrows all there is before the others.
  const q = planLink(100 * M, [member(0x10, 20 * M, 1), member(0x11, 60 * M), member(0x12, 10 * M)]);
  assert.deepEqual(all(q.classes), [30, 60, 10]);
  // A sender that wants less than its guarantee leaves the rest to others.
  assert.deepEqual(fairShares(100 * M, [{ cls: a, demand: 5 * M }, { cls: b, demand: Infinity }]).map((r) => r / M), [5, 95]);
});


test('fair shares, 3,000 generated links: within capacity, limits and demands; guarantees kept; work-conserving; priority and proportion honoured', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const r = rng(seed);
    const capacity = Math.round((10 + r() * 990) * M);
    const n = 1 + Math.floor(r() * 8);
    const members: { minor: number; bw: Bandwidth }[] = [];
    let free = capacity;
    for (let i = 0; i < n; i++) {
      const guarantee = r() < 0.2 ? 0 : Math.round(r() * free * 0.6);
      free -= guarantee;
      const limit = r() < 0.5 ? 0 : guarantee + Math.round(r() * capacity);
      members.push(member(0x10 + i, guarantee, Math.floor(r() * 3), limit));
    }
    const plan = planLink(capacity, members);
    const busy = plan.classes.map((cls) => ({ cls, demand: r() < 0.3 ? Math.round(r() * capacity * 0.5) : Infinity }));
    const got = fairShares(capacity, busy);
    const eps = capacity * 1e-9;
    const total = got.reduce((a, b) => a + b, 0);
    const ctx = `seed ${seed}`;
    assert.ok(total <= capacity + eps, ctx);
    busy.forEach((b, i) => {
      const want = Math.min(b.cls.ceil, b.demand);
      assert.ok(got[i] <= want + eps, `${ctx}: class ${i} above its ceil or demand`);
      assert.ok(got[i] >= Math.min(members[i].bw.guarantee, want) - eps, `${ctx}: class ${i} below its guarantee`);
    });
    // Work-conserving: bandwidth is left over only when every class has all it may take.
    if (total < capacity - eps) busy.forEach((b, i) => assert.ok(got[i] >= Math.min(b.cls.ceil, b.demand) - eps, `${ctx}: ${i} short while the link idles`));
    // A class short of what it may take means none of lower priority borrowed, and equals of its priority borrowed in proportion.
    busy.forEach((b, i) => {
      if (got[i] >= Math.min(b.cls.ceil, b.demand) - eps) return;
      busy.forEach((o, j) => {
        const borrowed = got[j] - Math.min(o.cls.rate, o.cls.ceil, o.demand);
        if (o.cls.prio > b.cls.prio) assert.ok(borrowed <= eps, `${ctx}: ${j} of lower priority borrowed while ${i} was short`);
        if (o.cls.prio === b.cls.prio && borrowed > eps) {
          const mine = got[i] - Math.min(b.cls.rate, b.cls.ceil, b.demand);
          assert.ok(mine / b.cls.quantum >= borrowed / o.cls.quantum - 1e-6 * capacity, `${ctx}: ${i} borrowed less per quantum than ${j}`);
        }
      });
    });
  }
});
