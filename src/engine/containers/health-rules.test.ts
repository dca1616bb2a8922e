import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyProbe, cutOutput, goDuration, type Health, healBackoffMs, healthText, healthTimes, nextProbeDelay, probeCommand, validateHealthcheck } from './health-rules';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

test("a probe's command: CMD as written, CMD-SHELL through the container's shell, none for NONE or an empty test", () => {
  assert.deepEqual(probeCommand({ Test: ['CMD', 'curl', '-f', 'x'] }, undefined), ['curl', '-f', 'x']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'curl -f x || exit 1'] }, undefined), ['/bin/sh', '-c', 'curl -f x || exit 1']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x'] }, ['/bin/bash', '-ec']), ['/bin/bash', '-ec', 'x']);
  for (const t of [['NONE'], [], ['CMD'], ['BOGUS', 'x']]) assert.equal(probeCommand({ Test: t }, undefined), undefined, JSON.stringify(t));
  assert.equal(probeCommand(undefined, undefined), undefined);
});

test("docker's defaults fill what is zero or unset", () => {
  assert.deepEqual(healthTimes({}), { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 });
  assert.deepEqual(healthTimes({ Interval: 2e9, Timeout: 5e8, StartPeriod: 1e10, StartInterval: 1e8, Retries: 7 }), { intervalMs: 2000, timeoutMs: 500, startPeriodMs: 10_000, startIntervalMs: 100, retries: 7 });
});

/**
 * A model of docker's rules, written differently (over the whole sequence
 * at once), to check applyProbe step by step on generated sequences.
 */
function model(results: { ok: boolean; t: number }[], retries: number, startPeriodMs: number): { status: string; streak: number } {
  let status = 'starting';
  let streak = 0;
  for (const r of results) {
    if (r.ok) {
      status = 'healthy';
      streak = 0;
    } else if (!(status === 'starting' && r.t < startPeriodMs)) {
      streak++;
      if (streak >= retries) status = 'unhealthy';
    }
  }
  return { status, streak };
}

test('probe results move the status by docker\'s rules (3000 generated sequences)', () => {
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let n = 0; n < 3000; n++) {
    const retries = 1 + Math.floor(rnd() * 4);
    const startPeriodMs = Math.floor(rnd() * 3) * 1000;
    const t = healthTimes({ Retries: retries, StartPeriod: startPeriodMs * 1e6 });
    const results = Array.from({ length: Math.floor(rnd() * 12) }, (_, i) => ({ ok: rnd() < 0.4, t: i * 300 }));
    let h: Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const prev = h;
      h = applyProbe(h, { Start: at(r.t), End: at(r.t + 10), ExitCode: r.ok ? 0 : 1 + (i % 3), Output: String(i) }, t, at(0));
      const want = model(results.slice(0, i + 1), retries, startPeriodMs);
      assert.deepEqual({ status: h.Status, streak: h.FailingStreak }, want, `case ${n} step ${i}`);
      assert.deepEqual(h.Log.map((e) => e.Output), results.slice(0, i + 1).map((_, k) => String(k)).slice(-5), 'the last five, oldest first');
      assert.ok(prev.Status !== 'unhealthy' || h.Status !== 'starting', 'never back to starting');
    }
  }
});

test('between probes: the start interval while starting in the start period, else the interval', () => {
  const t = healthTimes({ Interval: 10e9, StartPeriod: 60e9, StartInterval: 1e9 });
  const starting: Health = { Status: 'starting', FailingStreak: 0, Log: [] };
  assert.equal(nextProbeDelay(starting, t, at(0), T0 + 5_000), 1000);
  assert.equal(nextProbeDelay({ ...starting, Status: 'healthy' }, t, at(0), T0 + 5_000), 10_000, 'healthy already: the interval');
  assert.equal(nextProbeDelay(starting, t, at(0), T0 + 61_000), 10_000, 'after the start period: the interval');
});

test("output is cut as docker's limitedBuffer cuts it; durations print as Go's; the status text as docker's", () => {
  assert.equal(cutOutput(Buffer.from('ok\n'), false), 'ok\n');
  assert.equal(cutOutput(Buffer.alloc(4096, 'a'), false), 'a'.repeat(4096));
  assert.equal(cutOutput(Buffer.alloc(4096, 'a'), true), `${'a'.repeat(4096)}...`);
  assert.deepEqual([300, 1000, 30_000, 90_000, 1500, 3_600_000].map(goDuration), ['300ms', '1s', '30s', '1m30s', '1.5s', '1h0m0s']);
  assert.deepEqual([healthText(undefined), healthText({ Status: 'starting', FailingStreak: 0, Log: [] }), healthText({ Status: 'unhealthy', FailingStreak: 3, Log: [] })], ['', ' (health: starting)', ' (unhealthy)']);
});

test("bad values are refused with dockerd's messages", () => {
  assert.throws(() => validateHealthcheck({ Interval: 999_999 }, undefined), /^BerthError: Interval in Healthcheck cannot be less than 1ms$/m);
  assert.throws(() => validateHealthcheck({ Timeout: -1 }, undefined), /Timeout in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ Retries: -1 }, undefined), /Retries in Healthcheck cannot be negative/);
  assert.throws(() => validateHealthcheck({ Test: ['HTTP', 'x'] }, undefined), /unknown health check type HTTP/);
  assert.throws(() => validateHealthcheck(undefined, 'reboot'), /invalid health-on-failure action "reboot"/);
  validateHealthcheck({ Interval: 0, Timeout: 1e6, Retries: 0, Test: ['NONE'] }, 'restart');
  validateHealthcheck({ Interval: null as unknown as number, StartPeriod: null as unknown as number }, '');
});

test('health restarts in a row back off as the restart policy does', () => {
  assert.deepEqual([0, 1, 2, 3, 10, 11, 50].map(healBackoffMs), [0, 100, 200, 400, 51_200, 60_000, 60_000]);
});
