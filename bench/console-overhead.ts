/**
 * `npm run bench:console`: what having the console open costs. Runs the W1 workload
 * in-process (fsync 'always', 1 KiB, 1 producer with 1000 publishes in flight, 1 shared
 * consumer acking each message), alternately (ABBA) without and with the admin server running, an
 * open live-stats stream (/api/events, as the console page holds) and a scrape of /metrics
 * and /api/stats every second (as Prometheus and the page do). Prints the median of each
 * and the drop; the bound is < 5%.
 *
 *   node dist/bench/console-overhead.js [--messages N] [--runs R]
 */
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAdminServer } from '../src/admin/index.js';
import { Broker } from '../src/broker/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '6' },
    child: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const RUNS = Number(values.runs);
const WINDOW = 1000;
const BODY = new Uint8Array(1024).fill(0x61);
const SCRAPE_INTERVAL_MS = 1000;
const RUN_TIMEOUT_MS = 120_000;
const BOUND_PERCENT = 5;

function get(url: string): Promise<void> {
  return new Promise((resolve) => {
    http
      .get(url, (response) => {
        response.resume();
        response.on('end', () => resolve());
      })
      .on('error', () => resolve());
  });
}

interface RunResult {
  readonly rate: number;
  readonly cpuMicrosPerMessage: number;
}

async function runOnce(withConsole: boolean): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-bench-console-'));
  const broker = await Broker.open({ dataDir });
  const admin = withConsole ? await startAdminServer({ broker, port: 0 }) : null;
  let events: http.ClientRequest | null = null;
  let scraper: NodeJS.Timeout | null = null;
  try {
    if (admin) {
      const { url } = admin.address();
      events = http.get(`${url}/api/events`, (response) => response.resume());
      events.on('error', () => undefined);
      scraper = setInterval(
        () => void Promise.all([get(`${url}/metrics`), get(`${url}/api/stats`)]),
        SCRAPE_INTERVAL_MS,
      );
    }
    const client = broker.connect();
    await client.streams.create('w1', {
      subjects: ['w1'],
      fsync: 'always',
      retention: 'work-queue',
    });
    const subscription = await client.subscribe('w1', {
      subscription: 'workers',
      maxInFlight: WINDOW,
    });
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const deadline = started + RUN_TIMEOUT_MS;
    let received = 0;
    const consuming = (async () => {
      let last: Promise<void> = Promise.resolve();
      for await (const message of subscription) {
        last = message.ack();
        if (++received === MESSAGES || performance.now() > deadline) break;
      }
      await last;
    })();
    let sent = 0;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (sent < MESSAGES && performance.now() < deadline) {
          sent++;
          await client.publish('w1', BODY);
        }
      }),
    );
    await consuming;
    const cpu = process.cpuUsage(cpuBefore);
    return {
      rate: Math.round(received / ((performance.now() - started) / 1000)),
      cpuMicrosPerMessage: (cpu.user + cpu.system) / received,
    };
  } finally {
    if (scraper) clearInterval(scraper);
    events?.destroy();
    await admin?.close();
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One run in a fresh process. */
function runChild(withConsole: boolean): RunResult {
  const output = execFileSync(
    process.execPath,
    [process.argv[1]!, '--child', withConsole ? 'with' : 'without', '--messages', String(MESSAGES)],
    { encoding: 'utf8', timeout: RUN_TIMEOUT_MS * 2 },
  );
  return JSON.parse(output.trim().split('\n').at(-1)!) as RunResult;
}

if (values.child !== undefined) {
  console.log(JSON.stringify(await runOnce(values.child === 'with')));
} else {
  const without: RunResult[] = [];
  const withOpen: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) {
    // ABBA order: neither setting always runs first.
    if (run % 2 === 1) {
      without.push(runChild(false));
      withOpen.push(runChild(true));
    } else {
      withOpen.push(runChild(true));
      without.push(runChild(false));
    }
    console.log(
      JSON.stringify({
        bench: 'console-overhead',
        run,
        without: without.at(-1),
        with: withOpen.at(-1),
      }),
    );
  }
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const rateWithout = median(without.map((run) => run.rate));
  const rateWith = median(withOpen.map((run) => run.rate));
  const cpuWithout = median(without.map((run) => run.cpuMicrosPerMessage));
  const cpuWith = median(withOpen.map((run) => run.cpuMicrosPerMessage));
  const drop = (1 - rateWith / rateWithout) * 100;
  console.log(
    `W1 in-process, ${MESSAGES} x 1 KiB, fsync always, ${RUNS} runs each: median ${Math.round(rateWithout)} msgs/s without the console, ${Math.round(rateWith)} with it open (SSE + /metrics + /api/stats each second): ${drop.toFixed(1)}% drop`,
  );
  console.log(
    `CPU per message: ${cpuWithout.toFixed(2)} µs without, ${cpuWith.toFixed(2)} µs with (${((cpuWith / cpuWithout - 1) * 100).toFixed(1)}%)`,
  );
  console.log(`${drop < BOUND_PERCENT ? 'PASS' : 'MISS'} drop < ${BOUND_PERCENT}%`);
}
