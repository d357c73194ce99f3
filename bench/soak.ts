/**
 * `npm run soak -- --cycles N`: crash soak. Each cycle puts a publish + ack load on a fresh
 * broker, cuts it off at a random moment, starts it again on the same data and checks the two
 * promises a crash must keep:
 *
 * - every confirmed publish is still there: acked before the crash, or delivered after it
 *   (a confirmed message that is neither is counted `lost`);
 * - no message whose ack resolved is delivered again (counted `acked-then-redelivered`),
 *   before or after the crash.
 *
 * Two kinds of cycle (`--mode`):
 * - `process`: `weir serve` in a child process (file storage under a temp dir, fsync always),
 *   load through the network SDK, SIGKILL, restart on the same data dir;
 * - `power-cut`: the broker in this process on a FaultyFileSystem over a MemoryFileSystem,
 *   load through an in-process client, `crash()` (every unsynced byte dropped, sometimes a
 *   torn part kept), Broker.open on what survived; the broker that ran is never closed.
 * - `alternate` (the default): process and power-cut cycles in turn.
 *
 * Prints one line per cycle and a summary line `soak: cycles C confirmed N lost L
 * acked-then-redelivered R`; exits 1 if lost or acked-then-redelivered is above 0, 2 on bad
 * arguments.
 *
 *   node dist/bench/soak.js [--cycles N] [--messages M] [--mode alternate|process|power-cut]
 *                           [--seed S] [--data-parent DIR] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Broker } from '../src/broker/index.js';
import { NODE_FLAGS } from '../src/cli/node-flags.js';
import { connect } from '../src/client/index.js';
import type { Client, Message } from '../src/protocol/index.js';
import { MemoryFileSystem } from '../src/storage/index.js';
import { ManualClock } from '../src/util/index.js';
import { FaultyFileSystem, seededRandom } from '../test/helpers/faulty-file-system.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/**
 * Where process cycles keep their data by default: memory-backed when the machine has it. A
 * SIGKILL leaves the page cache to the next process, so it tests the same thing as a disk, and
 * a cycle does not wait seconds for a shared disk's fsync before the kill takes effect. Power
 * cuts (lost unsynced bytes) are the power-cut cycles' job. `--data-parent` overrides it.
 */
const RAM_DIR = '/dev/shm';
const MODES = ['alternate', 'process', 'power-cut'] as const;
type Mode = (typeof MODES)[number];
const CYCLES_MAX = 1_000_000;
const MESSAGES_MAX = 100_000;
const STREAM = 'soak';
const SUBSCRIPTION = 'workers';
/** Publishes in flight at once. */
const PUBLISH_WINDOW = 32;
/**
 * Lease of the soak's subscription: a delivery unacked at the cut is offered again this long
 * after it went out (plus the first backoff delay), so the check after a restart waits little.
 */
const LEASE_MS = 250;
/** Moves a power-cut cycle's manual clock past every lease and backoff before the check. */
const POWER_CUT_ADVANCE_MS = 60_000;
/** Deliveries a consumer holds unacked at once. */
const CONSUMER_IN_FLIGHT_MAX = 64;
/** A process cut comes this long at most (random) after a random count of confirms; a power cut at once. */
const CUT_DELAY_MS_MAX = 5;
/** Once publishing is over, the cut waits at most this long for the consumer to catch up. */
const ACK_CATCH_UP_MS = 2000;
/** How long `weir serve` may take to print its port. */
const START_MS_MAX = 15_000;
/** After the restart: how long to wait for a message still owed (only a loss waits this long). */
const OWED_WAIT_MS = 3000;
/** After the restart: how long to wait once nothing is owed (stragglers, redeliveries). */
const QUIET_WAIT_MS = 100;
/** Bound on the deliveries read after a restart. */
const DRAIN_MESSAGES_MAX = 10 * MESSAGES_MAX;

function fail(message: string): never {
  console.error(`soak: ${message}`);
  process.exit(2);
}

function parseOptions(): {
  cycles: number;
  messages: number;
  mode: Mode;
  seed: number;
  json: boolean;
  dataParent: string;
} {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        cycles: { type: 'string', default: '10' },
        messages: { type: 'string', default: '300' },
        mode: { type: 'string', default: 'alternate' },
        seed: { type: 'string' },
        'data-parent': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const cycles = Number(values.cycles);
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > CYCLES_MAX)
    fail(`--cycles must be an integer in 1..${CYCLES_MAX}, got ${values.cycles}`);
  const messages = Number(values.messages);
  if (!Number.isInteger(messages) || messages < 1 || messages > MESSAGES_MAX)
    fail(`--messages must be an integer in 1..${MESSAGES_MAX}, got ${values.messages}`);
  if (!(MODES as readonly string[]).includes(values.mode))
    fail(`--mode must be one of ${MODES.join(', ')}, got ${values.mode}`);
  const seed = values.seed === undefined ? (Date.now() % 2 ** 31) | 0 : Number(values.seed);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`);
  const dataParent = values['data-parent'] ?? (existsSync(RAM_DIR) ? RAM_DIR : tmpdir());
  return { cycles, messages, mode: values.mode as Mode, seed, json: values.json, dataParent };
}

/** What one cycle saw. */
interface Ledger {
  /** Bodies whose publish was confirmed. */
  readonly confirmed: Set<string>;
  /** Bodies whose ack resolved. */
  readonly acked: Set<string>;
  /**
   * Bodies whose ack was sent before the cut without resolving: the broker may have made it
   * durable before it died (SIGKILL waits for an fsync under way), so they may or may not
   * come again; either is right.
   */
  readonly ackSent: Set<string>;
  /** Bodies delivered after the restart. */
  readonly deliveredAfter: Set<string>;
  /** Resolved acks before the cut (set when the cut is done). */
  ackedBefore: number;
  ackedThenRedelivered: number;
}

function newLedger(): Ledger {
  return {
    confirmed: new Set(),
    acked: new Set(),
    ackSent: new Set(),
    deliveredAfter: new Set(),
    ackedBefore: 0,
    ackedThenRedelivered: 0,
  };
}

function seen(ledger: Ledger, message: Message): string {
  const body = message.text();
  if (ledger.acked.has(body)) ledger.ackedThenRedelivered++;
  return body;
}

/** When and how a cycle cuts the broker off. */
interface Cut {
  /** The cut starts once this many confirms and resolved acks came (plus its delay). */
  readonly afterEvents: number;
  readonly delayMs: number;
  /** Kills the broker; resolves once it is gone. */
  readonly run: () => Promise<void>;
}

/**
 * Publishes `messages` bodies (PUBLISH_WINDOW in flight) while a consumer acks what it gets;
 * records confirms and resolved acks. Cuts the broker off in the middle (see Cut) and returns
 * once the cut is done. What resolves after that is not recorded: a late confirm may be real
 * (sent before the kill), but leaving it out can only make the check weaker, never wrong.
 */
async function load(
  client: Client,
  cycle: number,
  messages: number,
  ledger: Ledger,
  plan: Cut,
): Promise<void> {
  let cutDone = false;
  let startCut!: () => void;
  const cut = new Promise<void>((resolve) => (startCut = resolve))
    .then(() =>
      plan.delayMs > 0
        ? new Promise<void>((resolve) => setTimeout(resolve, plan.delayMs))
        : undefined,
    )
    .then(plan.run)
    .then(() => {
      cutDone = true;
    });
  let next = 0;
  const publishing = Promise.all(
    Array.from({ length: PUBLISH_WINDOW }, async () => {
      while (next < messages && !cutDone) {
        const body = `c${cycle}-m${next++}`;
        try {
          await client.publish(STREAM, body);
          if (cutDone) return;
          ledger.confirmed.add(body);
          if (ledger.confirmed.size + ledger.acked.size >= plan.afterEvents) startCut();
        } catch {
          return; // the broker went away
        }
      }
    }),
  );
  const consuming = (async () => {
    let subscription;
    try {
      subscription = await client.subscribe(STREAM, {
        subscription: SUBSCRIPTION,
        leaseMs: LEASE_MS,
        maxInFlight: CONSUMER_IN_FLIGHT_MAX,
      });
    } catch {
      return;
    }
    const acks: Promise<void>[] = [];
    for (let count = 0; count < DRAIN_MESSAGES_MAX && !cutDone; count++) {
      let message: Message | null;
      try {
        message = await Promise.race([
          subscription.receive({ timeoutMs: QUIET_WAIT_MS }),
          cut.then(() => null),
        ]);
      } catch {
        break;
      }
      if (!message) {
        if (subscription.closed) break; // the connection went: receive would not wait
        continue;
      }
      const body = seen(ledger, message);
      ledger.ackSent.add(body);
      acks.push(
        message.ack().then(
          () => {
            if (cutDone) return;
            ledger.acked.add(body);
            if (ledger.confirmed.size + ledger.acked.size >= plan.afterEvents) startCut();
          },
          () => undefined, // not acked: it must come again
        ),
      );
    }
    await Promise.all(acks);
  })();
  // Every publish confirmed or failed: the cut comes once the consumer has caught up (or
  // after ACK_CATCH_UP_MS) at the latest, so that acks as well as publishes are cut into
  // (in power-cut cycles publishing is fast, and cutting when it ends left no acks before
  // the cut in half of them).
  void publishing.then(async () => {
    const deadline = performance.now() + ACK_CATCH_UP_MS;
    while (!cutDone && ledger.acked.size < ledger.confirmed.size && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    startCut();
  });
  await cut;
  void consuming.catch(() => undefined);
}

function planCut(
  messages: number,
  random: () => number,
  delayMsMax: number,
  run: () => Promise<void>,
): Cut {
  return {
    afterEvents: 1 + Math.floor(random() * 2 * messages),
    delayMs: random() * delayMsMax,
    run,
  };
}

/** After the restart: drains the subscription, acking, and counts what is owed and missing. */
async function drainAfter(client: Client, ledger: Ledger): Promise<void> {
  ledger.ackedBefore = ledger.acked.size;
  const subscription = await client.subscribe(STREAM, {
    subscription: SUBSCRIPTION,
    leaseMs: LEASE_MS,
    maxInFlight: CONSUMER_IN_FLIGHT_MAX,
  });
  const owed = (): number => missingOf(ledger).length;
  const acks: Promise<void>[] = [];
  for (let count = 0; count < DRAIN_MESSAGES_MAX; count++) {
    const message = await subscription.receive({
      timeoutMs: owed() > 0 ? OWED_WAIT_MS : QUIET_WAIT_MS,
    });
    if (!message) break;
    const body = seen(ledger, message);
    ledger.deliveredAfter.add(body);
    acks.push(message.ack().then(() => void ledger.acked.add(body)));
  }
  await Promise.all(acks);
  const missing = missingOf(ledger);
  if (missing.length > 0) {
    // What the broker says of the subscription, for whoever chases the loss.
    const info = await client.subscriptions.info(STREAM, SUBSCRIPTION);
    const stream = await client.streams.info(STREAM);
    console.log(
      `  lost: ${missing.slice(0, 8).join(' ')}${missing.length > 8 ? ' ...' : ''}; ` +
        `stream ${JSON.stringify(stream.partitions)}; subscription ${JSON.stringify({
          partitions: info.partitions,
          pending: info.pending,
          inFlight: info.inFlight,
          delayed: info.delayed,
        })}`,
    );
  }
  await subscription.close();
}

/** Confirmed, yet neither acked (or its ack sent) before the cut nor delivered after it. */
function missingOf(ledger: Ledger): string[] {
  return [...ledger.confirmed].filter(
    (body) =>
      !ledger.acked.has(body) && !ledger.ackSent.has(body) && !ledger.deliveredAfter.has(body),
  );
}

// ---- process cycles: `weir serve`, SIGKILL ----------------------------------------------

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<void>;
}

async function serve(dataDir: string): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      CLI,
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--no-http',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weir serve did not print its port within ${START_MS_MAX} ms`));
    }, START_MS_MAX);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output = (output + chunk).slice(-4000);
      const match = /listening on weir:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`weir serve exited while starting: ${output.trim()}`));
    });
  });
  child.stdout.resume();
  return { child, url: `weir://127.0.0.1:${port}`, exited };
}

async function kill(served: Served): Promise<void> {
  served.child.kill('SIGKILL');
  await served.exited;
}

async function processCycle(
  cycle: number,
  messages: number,
  random: () => number,
  dataParent: string,
): Promise<Ledger> {
  const ledger = newLedger();
  const dataDir = mkdtempSync(join(dataParent, 'weir-soak-'));
  try {
    const first = await serve(dataDir);
    let client: Client | null = null;
    try {
      client = await connect(first.url, { name: 'soak', reconnect: false });
      await client.streams.create(STREAM, { subjects: [STREAM], fsync: 'always' });
      await load(
        client,
        cycle,
        messages,
        ledger,
        planCut(messages, random, CUT_DELAY_MS_MAX, () => kill(first)),
      );
    } finally {
      await kill(first);
      void client?.close().catch(() => undefined); // its work fails at once: no wait
    }
    const second = await serve(dataDir);
    try {
      const after = await connect(second.url, { name: 'soak-after', reconnect: false });
      try {
        await drainAfter(after, ledger);
      } finally {
        await after.close().catch(() => undefined);
      }
    } finally {
      await kill(second);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return ledger;
}

// ---- power-cut cycles: FaultyFileSystem.crash() ------------------------------------------

const POWER_CUT_DATA_DIR = '/soak';

async function powerCutCycle(
  cycle: number,
  messages: number,
  random: () => number,
): Promise<Ledger> {
  const ledger = newLedger();
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem(), {
    seed: Math.floor(random() * 2 ** 31),
  });
  // A manual clock per boot: nothing time-based is under test here, and the abandoned
  // broker's timers must never fire into the next boot.
  const broker = await Broker.open({
    dataDir: POWER_CUT_DATA_DIR,
    fileSystem,
    clock: new ManualClock(),
  });
  const client = broker.connect();
  await client.streams.create(STREAM, { subjects: [STREAM], fsync: 'always' });
  const tear = random() < 0.5;
  let survivor: FaultyFileSystem | null = null;
  const powerCut = async (): Promise<void> => {
    survivor = await fileSystem.crash({ tearUnsyncedWrites: tear });
  };
  await load(client, cycle, messages, ledger, planCut(messages, random, 0, powerCut));
  // The broker that ran is abandoned, never closed (its file system is fenced).
  const clock = new ManualClock();
  const reopened = await Broker.open({
    dataDir: POWER_CUT_DATA_DIR,
    fileSystem: survivor!,
    clock,
  });
  // Past every lease that was running at the cut: what was delivered and not acked is due.
  clock.advance(POWER_CUT_ADVANCE_MS);
  try {
    await drainAfter(reopened.connect(), ledger);
  } finally {
    await reopened.close();
  }
  return ledger;
}

// ---- main ----------------------------------------------------------------------------------

const options = parseOptions();
const random = seededRandom(options.seed);
const totals = { cycles: 0, confirmed: 0, lost: 0, ackedThenRedelivered: 0 };
const started = performance.now();
console.log(
  `soak: ${options.cycles} cycles of ${options.messages} messages, mode ${options.mode}, ` +
    `seed ${options.seed}, process data under ${options.dataParent}`,
);
for (let cycle = 1; cycle <= options.cycles; cycle++) {
  const kind =
    options.mode === 'alternate' ? (cycle % 2 === 1 ? 'process' : 'power-cut') : options.mode;
  const cycleStarted = performance.now();
  const ledger =
    kind === 'process'
      ? await processCycle(cycle, options.messages, random, options.dataParent)
      : await powerCutCycle(cycle, options.messages, random);
  const lost = missingOf(ledger).length;
  totals.cycles++;
  totals.confirmed += ledger.confirmed.size;
  totals.lost += lost;
  totals.ackedThenRedelivered += ledger.ackedThenRedelivered;
  const figures = {
    cycle,
    kind,
    confirmed: ledger.confirmed.size,
    ackedBefore: ledger.ackedBefore,
    deliveredAfter: ledger.deliveredAfter.size,
    lost,
    ackedThenRedelivered: ledger.ackedThenRedelivered,
    ms: Math.round(performance.now() - cycleStarted),
  };
  console.log(
    options.json
      ? JSON.stringify(figures)
      : `cycle ${cycle} ${kind}: confirmed ${figures.confirmed} acked-before-cut ${figures.ackedBefore} ` +
          `delivered-after-restart ${figures.deliveredAfter} lost ${lost} ` +
          `acked-then-redelivered ${figures.ackedThenRedelivered} (${figures.ms} ms)`,
  );
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `soak: cycles ${totals.cycles} confirmed ${totals.confirmed} lost ${totals.lost} ` +
    `acked-then-redelivered ${totals.ackedThenRedelivered} (${seconds.toFixed(1)} s, seed ${options.seed})`,
);
process.exit(totals.lost > 0 || totals.ackedThenRedelivered > 0 ? 1 : 0);
