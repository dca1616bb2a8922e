import type { Etcd3, IOperation } from 'etcd3';

/** Operations per transaction (the embedded member allows 4096; a shared etcd may keep its default of 128). */
export const TXN_OPS = 120;

/**
 * Writes the operations whatever the store holds, in as few transactions as
 * etcd takes. The client's transactions begin with a comparison: `anchor`'s
 * version is never below 0, so this one always holds.
 */
export async function writeAll(client: Etcd3, anchor: string, ops: IOperation[]): Promise<void> {
  for (let i = 0; i < ops.length; i += TXN_OPS) {
    await client.if(anchor, 'Version', '>', -1).then(...ops.slice(i, i + TXN_OPS)).commit();
  }
}
