/**
 * The broker-semantics suite's factory over TCP: a real broker on a temp dir behind a real
 * WeirServer on port 0, reached through the network SDK. The same suites that run embedded
 * run here, so the two transports cannot drift apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import type { Client } from '../../src/protocol/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';
import { ManualClock } from '../../src/util/index.js';
import type { Harness, HarnessFactory } from '../broker/semantics/harness.js';

export const overTcp: HarnessFactory = async (): Promise<Harness> => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-tcp-test-'));
  const clients: Client[] = [];
  // The server runs in this process: the suite's clock is the broker's behind it.
  const clock = new ManualClock();
  let broker = await Broker.open({ dataDir, clock });
  let server = await WeirServer.listen({
    connectClient: () => broker.connect(),
    port: 0,
    logger: silentLogger,
  });
  const port = server.address().port;
  const open = async (): Promise<Client> => {
    const client = await connect(`weir://127.0.0.1:${port}`, { name: 'semantics-suite' });
    clients.push(client);
    return client;
  };
  const closeAll = async (): Promise<void> => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    await server.close();
    await broker.close();
  };
  return {
    client: await open(),
    clock,
    connect: open,
    restart: async (): Promise<Client> => {
      await closeAll();
      broker = await Broker.open({ dataDir, clock });
      server = await WeirServer.listen({
        connectClient: () => broker.connect(),
        port,
        logger: silentLogger,
      });
      return open();
    },
    close: async (): Promise<void> => {
      try {
        await closeAll();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
};
