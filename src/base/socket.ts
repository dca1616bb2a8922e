import * as net from 'node:net';

/** Does something accept connections on this unix socket? */
export function isListening(socketPath: string): Promise<boolean> {
  return new Promise((res) => {
    const c = net.connect(socketPath, () => {
      c.destroy();
      res(true);
    });
    c.on('error', () => res(false));
  });
}
