/**
 * The child process of the crash test (test/storage/crash.test.ts), which kills it with
 * SIGKILL at a random moment.
 *
 *   node dist/test/helpers/crash-child.js <directory> <segmentBytes> <inFlight>
 *
 * It opens the file log in <directory> with fsync 'always', prints `open <start> <end>`, then
 * keeps <inFlight> appends in flight, forever (or until CHILD_LIFETIME_MS passes, so that an
 * orphan cannot run on). Every record's content is a function of its offset (`expectedRecord`),
 * so the parent can check any record it finds, confirmed or not. Offsets are predicted at the
 * call (the log assigns them in call order); as each append resolves the child prints
 * `ok <firstOffset> <count>` — one write(2) per line on a pipe, so a line the parent sees whole
 * was confirmed before the kill.
 */
import { pathToFileURL } from 'node:url';
import { openLog, type RecordInput } from '../../src/storage/index.js';
import { seededRandom } from './faulty-file-system.js';

/** The child stops by itself after this long, or after this many appends. */
export const CHILD_LIFETIME_MS = 20_000;
const CHILD_APPENDS_MAX = 2_000_000;
/** Records per append: 1, 2 or 3, by offset (so batches of several records get cut too). */
export function recordsPerAppend(firstOffset: number): number {
  return 1 + (firstOffset % 3);
}

const encoder = new TextEncoder();

/** The record the child stores at `offset`: body bytes and length drawn from the offset. */
export function expectedRecord(offset: number): RecordInput & { headers: Record<string, string> } {
  const random = seededRandom(offset * 2_654_435_761 + 1);
  const body = new Uint8Array(8 + Math.floor(random() * 300));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(random() * 256);
  return {
    key: encoder.encode(`key-${offset % 17}`),
    headers: { offset: String(offset) },
    body,
  };
}

async function main(): Promise<void> {
  const [directory, segmentBytesText, inFlightText] = process.argv.slice(2);
  if (!directory || !segmentBytesText || !inFlightText) {
    process.stderr.write('usage: crash-child.js <directory> <segmentBytes> <inFlight>\n');
    process.exit(2);
  }
  const log = await openLog({ directory, fsync: 'always', segmentBytes: Number(segmentBytesText) });
  process.stdout.write(`open ${log.startOffset} ${log.endOffset}\n`);
  const deadline = Date.now() + CHILD_LIFETIME_MS;
  let next = log.endOffset;

  const fail = (message: string): never => {
    process.stderr.write(`crash-child: ${message}\n`);
    process.exit(3);
  };

  const appendOne = (): Promise<void> => {
    const first = next;
    const count = recordsPerAppend(first);
    next += count;
    const records = Array.from({ length: count }, (_, i) => expectedRecord(first + i));
    return log.append(records).then(
      (offset) => {
        if (offset !== first) fail(`append predicted at ${first} got ${offset}`);
        process.stdout.write(`ok ${first} ${count}\n`);
      },
      (error: unknown) => fail(`append at ${first} failed: ${String(error)}`),
    );
  };

  const inFlight = Number(inFlightText);
  let appends = 0;
  const workers = Array.from({ length: inFlight }, async () => {
    while (Date.now() < deadline && appends++ < CHILD_APPENDS_MAX) await appendOne();
  });
  await Promise.all(workers);
  await log.close();
  process.stdout.write('done\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `crash-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
