/**
 * An outbox relay in a child process, for the crash test:
 *   node relay-child.js <pgUrl> <weirUrl> <table> <batchSize> <killAfterBatch>
 * Prints `batch <published> <duplicates>` after each batch it committed and `idle <pending>`
 * each time it waits. With killAfterBatch N > 0 it SIGKILLs itself right after the broker
 * confirmed its Nth publishBatch and before the relay marks those rows published: the crash
 * window the dedup ids are for. On SIGTERM it closes the relay and exits 0.
 */
import { connect } from '../../src/client/index.js';
import type { Client } from '../../src/protocol/index.js';
import { OutboxRelay } from '../../src/outbox/index.js';

const [pgUrl, weirUrl, table, batchText, killText] = process.argv.slice(2);
if (!pgUrl || !weirUrl || !table || !batchText || !killText)
  throw new Error('usage: relay-child <pgUrl> <weirUrl> <table> <batchSize> <killAfterBatch>');
const killAfterBatch = Number(killText);
const client = await connect(weirUrl, { name: 'relay-child' });
let batches = 0;
const publishing: Client = new Proxy(client, {
  get(target, property) {
    if (property === 'publishBatch') {
      return async (...args: Parameters<Client['publishBatch']>) => {
        const results = await target.publishBatch(...args);
        batches++;
        if (batches === killAfterBatch) process.kill(process.pid, 'SIGKILL');
        return results;
      };
    }
    const value: unknown = Reflect.get(target, property, target);
    return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
  },
});
const relay = new OutboxRelay({
  pg: pgUrl,
  client: publishing,
  table,
  batchSize: Number(batchText),
  pollIntervalMs: 60_000,
});
relay.on('batch', (report) =>
  process.stdout.write(`batch ${report.published} ${report.duplicates}\n`),
);
relay.on('idle', (lag) => process.stdout.write(`idle ${lag.pending}\n`));
relay.on('failure', (error) => process.stderr.write(`relay-child: ${String(error)}\n`));
process.on('SIGTERM', () => {
  void (async () => {
    await relay.close();
    await client.close();
    process.exit(0);
  })();
});
await relay.start();
