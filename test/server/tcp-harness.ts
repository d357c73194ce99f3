/**
 * The broker-semantics suite's factory over TCP: a real broker on a temp dir behind a real
 * WeirServer on port 0, reached through the network SDK. The same suites that run embedded
 * run here, so the two transports cannot drift apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Broker,
  OPEN_PRINCIPAL,
  type BrokerOptions,
  type Principal,
} from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import type { Client } from '../../src/protocol/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';
import { ManualClock } from '../../src/util/index.js';
import type { Harness, HarnessFactory } from '../broker/semantics/harness.js';
import type { PrincipalHarnessFactory } from '../broker/semantics/permissions.js';

export const overTcp: HarnessFactory = () => overTcpWith({})();

/** The same with `extra` broker options (a cluster view, say), also on restart. */
export const overTcpWith =
  (extra: Omit<BrokerOptions, 'dataDir' | 'clock'>): HarnessFactory =>
  () =>
    openOverTcp(extra);

async function openOverTcp(extra: Omit<BrokerOptions, 'dataDir' | 'clock'>): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-tcp-test-'));
  const clients: Client[] = [];
  // The server runs in this process: the suite's clock is the broker's behind it.
  const clock = new ManualClock();
  let broker = await Broker.open({ ...extra, dataDir, clock });
  let server = await WeirServer.listen({
    connectClient: () => broker.connect(),
    port: 0,
    logger: silentLogger,
  });
  const port = server.address().port;
  const open = async (): Promise<Client> => {
    // The SDK's own timers (circuit-breaker cool-downs) run on the suite's clock too.
    const client = await connect(`weir://127.0.0.1:${port}`, { name: 'semantics-suite', clock });
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
      broker = await Broker.open({ ...extra, dataDir, clock });
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
}

/**
 * The permissions suite over TCP. Until the handshake authenticates, each principal gets a
 * server of its own on port 0 whose every connection acts for it (`connectClient` hands out
 * `broker.connect({ principal })`), and `clientAs(principal)` connects the SDK to that server.
 * `client` reaches the open (admin) server.
 */
export const overTcpWithPrincipals: PrincipalHarnessFactory = async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-tcp-test-'));
  const clock = new ManualClock();
  const broker = await Broker.open({ dataDir, clock });
  const servers: WeirServer[] = [];
  const clients: Client[] = [];
  const serve = async (principal: Principal, remote: string | null): Promise<number> => {
    const server = await WeirServer.listen({
      connectClient: () => broker.connect({ principal, remote }),
      port: 0,
      logger: silentLogger,
    });
    servers.push(server);
    return server.address().port;
  };
  const openPort = await serve(OPEN_PRINCIPAL, null);
  const open = async (port: number): Promise<Client> => {
    const client = await connect(`weir://127.0.0.1:${port}`, { name: 'permissions-suite' });
    clients.push(client);
    return client;
  };
  return {
    client: await open(openPort),
    clock,
    connect: () => open(openPort),
    clientAs: async (principal: Principal, remote: string | null = null) =>
      open(await serve(principal, remote)),
    close: async (): Promise<void> => {
      try {
        for (const client of clients.splice(0)) await client.close().catch(() => undefined);
        for (const server of servers.splice(0)) await server.close();
        await broker.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
};
