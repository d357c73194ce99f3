/**
 * A publisher run inside a node's network namespace by partition.test.ts: it publishes to
 * that node (argv[2], a weir:// URL) one message at a time, a new number each time, and prints
 * `confirmed N MS` for every confirm (MS: ms since the epoch), until it is killed.
 */
import { connect } from '../../src/index.js';

const RETRY_MS = 20;

const url = process.argv[2];
if (url === undefined) throw new Error('usage: isolated-publisher weir://HOST:PORT');
const mq = await connect(url);
for (let n = 0; ; n += 1) {
  try {
    await mq.publish('orders.isolated', { n, isolated: true }, { id: `iso-${n}` });
    process.stdout.write(`confirmed ${n} ${Date.now()}\n`);
  } catch {
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
