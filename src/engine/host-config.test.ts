import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCpuset, toResources, validateHostConfig } from './host-config';

test('bad resource values are refused with docker messages', () => {
  assert.throws(() => validateHostConfig({ Memory: 1024 }), /Minimum memory limit allowed is 6MB/);
  assert.throws(() => validateHostConfig({ Memory: 8 << 20, MemorySwap: 4 << 20 }), /memoryswap/);
  assert.throws(() => validateHostConfig({ NanoCpus: 64e9 }, 2), /Range of CPUs is from 0.01 to 2.00/);
  assert.throws(() => validateHostConfig({ RestartPolicy: { Name: 'sometimes' } }), /invalid restart policy/);
  assert.throws(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'always' } }), /--restart and --rm/);
  assert.throws(() => parseCpuset('0-9', 2), /not available/);
  validateHostConfig({ Memory: 64 << 20, NanoCpus: 1.5e9, CpusetCpus: '0-1' }, 2);
});

test('resources map to OCI as docker maps them', () => {
  const r = toResources({ Memory: 64 << 20, NanoCpus: 0.5e9, PidsLimit: 100, BlkioWeight: 300, CpuShares: 512 });
  assert.equal(r.memory?.limit, 64 << 20);
  assert.equal(r.memory?.swap, 128 << 20);
  assert.deepEqual([r.cpu?.quota, r.cpu?.period, r.cpu?.shares], [50_000, 100_000, 512]);
  assert.equal(r.pids?.limit, 100);
  assert.equal(r.blockIO?.weight, 300);
  assert.deepEqual(toResources({}), {});
});
