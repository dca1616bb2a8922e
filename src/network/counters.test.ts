import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNetDev } from './counters';

test("/proc/<pid>/net/dev: each interface's counters, loopback left out", () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     420       6    0    0    0     0          0         0      420       6    0    0    0     0       0          0
  eth0:    1488      18    1    2    0     0          0         0      822      11    3    4    0     0       0          0
`;
  assert.deepEqual(parseNetDev(text), { eth0: { rx_bytes: 1488, rx_packets: 18, rx_errors: 1, rx_dropped: 2, tx_bytes: 822, tx_packets: 11, tx_errors: 3, tx_dropped: 4 } });
  assert.deepEqual(parseNetDev(''), {});
});
