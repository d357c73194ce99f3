/**
 * Child process of embedded.crash.test.ts (not a test file): a broker under load that the
 * parent kills with SIGKILL. It publishes numbered messages (bodies "0", "1", ...) with 200
 * unconfirmed at a time and consumes them, acking each; it prints `p <n>` once publish n is
 * confirmed and `a <n>` once the ack of message n resolved (one write per line to a pipe:
 * a line the parent sees whole happened before the kill). It stops by itself after
 * LIFETIME_MS so that an orphan cannot run on.
 *
 *   node crash-child.js <dataDir> <first number>
 */
import { Broker } from '../../src/broker/index.js';

const LIFETIME_MS = 20_000;
const WINDOW = 200;
const dataDir = process.argv[2]!;
const first = Number(process.argv[3] ?? 0);
setTimeout(() => process.exit(3), LIFETIME_MS).unref();

const broker = await Broker.open({ dataDir });
const client = broker.connect();
await client.streams.create('crash', { subjects: ['crash'], fsync: 'always' });
const subscription = await client.subscribe('crash', { subscription: 'w', maxInFlight: 100 });
const write = (line: string): void => {
  process.stdout.write(line + '\n');
};
write('ready');

const consuming = (async () => {
  for (;;) {
    const message = await subscription.receive({ timeoutMs: 1000 });
    if (!message) continue;
    const text = message.text();
    // Ack about two in three, leave the rest in flight.
    if (Number(text) % 3 !== 2)
      message.ack().then(
        () => write(`a ${text}`),
        () => undefined,
      );
  }
})();

let next = first;
const inFlight = new Set<Promise<void>>();
for (;;) {
  while (inFlight.size >= WINDOW) await Promise.race(inFlight);
  const number = next++;
  const publish = client.publish('crash', String(number)).then(() => {
    write(`p ${number}`);
    inFlight.delete(publish);
  });
  inFlight.add(publish);
  if (number % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
}
await consuming;
