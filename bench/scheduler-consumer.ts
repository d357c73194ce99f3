/**
 * The consumer of `bench:scheduler --consumer tcp`, in a process of its own: it connects to
 * the benchmark's broker over TCP (the network SDK), takes `count` delayed messages from the
 * shared subscription `w` of stream `later`, acks each, and writes per message its lateness
 * (receive time - deliverAt), its move lateness (record timestamp - deliverAt) and its due
 * second to `out`: count float64s, count float64s, count bytes. It prints `ready` once it
 * is subscribed.
 *
 *   node dist/bench/scheduler-consumer.js URL COUNT FIRST_DUE_MS OUT_FILE
 */
import { writeFileSync } from 'node:fs';
import { connect } from '../src/client/index.js';

/** The same window of unacked messages as the in-process consumer. */
const IN_FLIGHT = 5000;
/** Nothing for this long: the run failed (it says after how many). */
const RECEIVE_TIMEOUT_MS = 120_000;

const [url, countText, firstDueText, out] = process.argv.slice(2);
if (url === undefined || out === undefined) {
  console.error('usage: scheduler-consumer URL COUNT FIRST_DUE_MS OUT_FILE');
  process.exit(2);
}
const count = Number(countText);
const firstDue = Number(firstDueText);
const client = await connect(url, { name: 'bench-scheduler-consumer', reconnect: false });
const subscription = await client.subscribe('later', {
  subscription: 'w',
  mode: 'shared',
  maxInFlight: IN_FLIGHT,
});
process.stdout.write('ready\n');
const lateness = new Float64Array(count);
const moveLateness = new Float64Array(count);
const dueSecond = new Uint8Array(count);
for (let received = 0; received < count; received++) {
  const message = await subscription.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
  if (message === null)
    throw new Error(`nothing within ${RECEIVE_TIMEOUT_MS} ms after ${received}`);
  const deliverAt = Number(message.text());
  moveLateness[received] = message.timestamp - deliverAt;
  dueSecond[received] = Math.floor((deliverAt - firstDue) / 1000);
  lateness[received] = Date.now() - deliverAt;
  void message.ack();
}
writeFileSync(
  out,
  Buffer.concat([
    Buffer.from(lateness.buffer),
    Buffer.from(moveLateness.buffer),
    Buffer.from(dueSecond.buffer),
  ]),
);
await subscription.close();
await client.close();
