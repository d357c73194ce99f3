/** A broker (memory) behind a WeirServer on port 0, in this process: for protocol-level tests. */
import { Broker, type BrokerOptions } from '../../src/broker/index.js';
import { silentLogger, WeirServer, type ServerOptions } from '../../src/server/index.js';

export interface TestServer {
  readonly broker: Broker;
  readonly server: WeirServer;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startTestServer(
  options: Partial<ServerOptions> = {},
  brokerOptions: BrokerOptions = { storage: 'memory' },
): Promise<TestServer> {
  const broker = await Broker.open(brokerOptions);
  const server = await WeirServer.listen({
    // The remote SDK makes the client-side spans, not the connection's client.
    connectClient: (identity) => broker.connect({ tracing: identity.tracing }),
    port: 0,
    logger: silentLogger,
    ...options,
  });
  const port = server.address().port;
  return {
    broker,
    server,
    port,
    url: `weir://127.0.0.1:${port}`,
    async close() {
      await server.close();
      await broker.close();
    },
  };
}
