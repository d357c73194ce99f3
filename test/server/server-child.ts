/**
 * A broker server in a child process, for tests that SIGKILL or SIGTERM it:
 *   node server-child.js <dataDir> <port>
 * Prints `listening <port>` once it accepts connections; on SIGTERM shuts down gracefully
 * (as `weir serve` does) and exits 0.
 */
import { Broker } from '../../src/broker/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';

const [dataDir, portText] = process.argv.slice(2);
if (!dataDir || portText === undefined) throw new Error('usage: server-child <dataDir> <port>');
const broker = await Broker.open({ dataDir });
const server = await WeirServer.listen({
  connectClient: () => broker.connect(),
  port: Number(portText),
  logger: silentLogger,
});
process.stdout.write(`listening ${server.address().port}\n`);
process.on('SIGTERM', () => {
  void (async () => {
    await server.close();
    await broker.close();
    process.exit(0);
  })();
});
