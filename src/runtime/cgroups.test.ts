import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBlkioV1, parseIoStatV2 } from './cgroups';

test('block I/O counters: v1 lines per device and operation (the overall Total left out), v2 io.stat as read and write', () => {
  assert.deepEqual(parseBlkioV1('254:0 Read 98304\n254:0 Write 8400896\n254:0 Total 8499200\nTotal 8499200\n'), [
    { major: 254, minor: 0, op: 'Read', value: 98304 },
    { major: 254, minor: 0, op: 'Write', value: 8400896 },
    { major: 254, minor: 0, op: 'Total', value: 8499200 },
  ]);
  assert.deepEqual(parseBlkioV1(undefined), []);
  assert.deepEqual(parseIoStatV2('8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n'), {
    serviceBytes: [{ major: 8, minor: 0, op: 'read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 8192 }],
    serviced: [{ major: 8, minor: 0, op: 'read', value: 1 }, { major: 8, minor: 0, op: 'write', value: 2 }],
  });
});
