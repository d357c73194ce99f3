/** The broker-semantics suite's factory for the embedded broker (a temp dir per broker). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, type BrokerOptions } from '../../src/broker/index.js';
import type { Client } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/util/index.js';
import type { Harness, HarnessFactory } from './semantics/harness.js';
import type { PrincipalHarnessFactory } from './semantics/permissions.js';
import type { Principal } from '../../src/broker/index.js';

/** The embedded broker opened with `extra` options too (a cluster view, say), also on restart. */
export const embeddedWith =
  (extra: Omit<BrokerOptions, 'dataDir' | 'clock'>): HarnessFactory =>
  async (): Promise<Harness> => {
    const dataDir = await mkdtemp(join(tmpdir(), 'weir-broker-test-'));
    const clock = new ManualClock();
    let broker = await Broker.open({ ...extra, dataDir, clock });
    return {
      client: broker.connect(),
      clock,
      connect: (): Promise<Client> => Promise.resolve(broker.connect()),
      restart: async (): Promise<Client> => {
        await broker.close();
        broker = await Broker.open({ ...extra, dataDir, clock });
        return broker.connect();
      },
      close: async (): Promise<void> => {
        try {
          await broker.close();
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  };

export const embedded: HarnessFactory = embeddedWith({});

/** The same over a memory broker (no restart: nothing survives it). */
export const embeddedMemory: HarnessFactory = async (): Promise<Harness> => {
  const clock = new ManualClock();
  const broker = await Broker.open({ storage: 'memory', clock });
  return {
    client: broker.connect(),
    clock,
    connect: (): Promise<Client> => Promise.resolve(broker.connect()),
    close: () => broker.close(),
  };
};

/**
 * The embedded broker for the permissions suite: `client` is the open (admin) client, and
 * `clientAs(principal)` a client acting for `principal`, as the server hands one to each
 * connection it authenticated.
 */
export const embeddedWithPrincipals: PrincipalHarnessFactory = async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-broker-test-'));
  const clock = new ManualClock();
  const broker = await Broker.open({ dataDir, clock });
  return {
    client: broker.connect(),
    clock,
    connect: (): Promise<Client> => Promise.resolve(broker.connect()),
    clientAs: (principal: Principal, remote: string | null = null): Promise<Client> =>
      Promise.resolve(broker.connect({ principal, remote })),
    close: async (): Promise<void> => {
      try {
        await broker.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
};
