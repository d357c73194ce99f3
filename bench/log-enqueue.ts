/**
 * `node dist/bench/log-enqueue.js [--records N] [--runs R]`: the CPU cost of the log's append
 * path alone. A memory log (no disk: the figure is the log's own work, encoding and CRC
 * included), 256-byte records with one header, enqueue() 1000 at a time and durable() once per
 * 1000, as the server's PUBLISH path does. Prints CPU ns per record for each run and the
 * median. Compare two builds by running each alternately (the machine is noisy).
 */
import { parseArgs } from 'node:util';
import { openMemoryLog } from '../src/storage/index.js';

const WINDOW = 1000;
const BODY_BYTES = 256;
const RUNS_MAX = 50;
const RECORDS_MAX = 10_000_000;

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
  },
});
/** The integer value of --name, or exit with a message naming the flag and its range. */
function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}
const records = integerFlag('records', values.records, WINDOW, RECORDS_MAX);
const runs = integerFlag('runs', values.runs, 1, RUNS_MAX);

async function once(): Promise<number> {
  const log = await openMemoryLog({ segmentBytes: 1024 * 1024 * 1024 });
  const body = new Uint8Array(BODY_BYTES);
  const headers = { ':s': 'bench.subject' };
  const started = process.cpuUsage();
  try {
    let written = 0;
    while (written < records) {
      let end = 0;
      for (let i = 0; i < WINDOW && written < records; i++, written++) {
        end = log.enqueue({ key: null, headers, body }) + 1;
      }
      await log.durable(end);
    }
    const cpu = process.cpuUsage(started);
    return ((cpu.user + cpu.system) * 1000) / records;
  } finally {
    await log.close();
  }
}

const figures: number[] = [];
for (let run = 0; run < runs; run++) {
  const nanoseconds = await once();
  figures.push(nanoseconds);
  console.log(`run ${run + 1}: ${nanoseconds.toFixed(0)} ns CPU per record`);
}
figures.sort((a, b) => a - b);
console.log(
  `median of ${runs}: ${figures[Math.floor(runs / 2)]!.toFixed(0)} ns CPU per record (${records} records of ${BODY_BYTES} B)`,
);
