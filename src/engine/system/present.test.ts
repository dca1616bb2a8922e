import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanDuration } from '../../base/duration';
import { parseFilters } from './present';

test('durations read like docker ps', () => {
  assert.equal(humanDuration(300), 'Less than a second');
  assert.equal(humanDuration(5_000), '5 seconds');
  assert.equal(humanDuration(70_000), 'About a minute');
  assert.equal(humanDuration(10 * 60_000), '10 minutes');
  assert.equal(humanDuration(3600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3600_000), '5 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
});

test('both filter encodings parse', () => {
  assert.deepEqual(parseFilters('{"status":["running"]}'), { status: ['running'] });
  assert.deepEqual(parseFilters('{"label":{"a=b":true}}'), { label: ['a=b'] });
  assert.deepEqual(parseFilters(undefined), {});
});
