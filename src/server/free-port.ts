/**
 * A TCP port free on `host` now: bound at port 0, read, released. For a port that must be
 * known before the listener that will use it starts, and stay the same across its restarts
 * (a cluster node's advertised ports); another process may take it in between, which the
 * later listen then reports.
 */
import * as net from 'node:net';

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error(`no port on ${host}`)),
      );
    });
  });
}
