/** An interface's traffic counters as docker's stats name them. */
export interface InterfaceCounters {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/**
 * /proc/<pid>/net/dev of a process in a container's network namespace: the
 * counters of each interface but loopback, as docker's stats report them.
 */
export function parseNetDev(text: string): Record<string, InterfaceCounters> {
  const out: Record<string, InterfaceCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const n = m[2].trim().split(/\s+/).map(Number);
    out[m[1]] = { rx_bytes: n[0], rx_packets: n[1], rx_errors: n[2], rx_dropped: n[3], tx_bytes: n[8], tx_packets: n[9], tx_errors: n[10], tx_dropped: n[11] };
  }
  return out;
}
