/**
 * Storage telemetry: an attached sink hears every group commit, labelled by what the log is
 * for, and one stream append in CONFIRM_SAMPLE_EVERY; a detached one hears nothing more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attachStorageTelemetry,
  CONFIRM_SAMPLE_EVERY,
  MemoryFileSystem,
  openJournal,
  openLog,
  type LogKind,
} from '../../src/storage/index.js';

test('a sink hears group commits by log kind and sampled confirm latencies', async () => {
  const fileSystem = new MemoryFileSystem();
  const flushes: { kind: LogKind; writeMs: number; syncMs: number | null }[] = [];
  const confirms: number[] = [];
  const detach = attachStorageTelemetry({
    flushed: (kind, writeMs, syncMs) => flushes.push({ kind, writeMs, syncMs }),
    confirmed: (ms) => confirms.push(ms),
  });
  const log = await openLog({ directory: '/log', fileSystem, fsync: 'always' });
  const journal = await openJournal({ directory: '/journal', fileSystem });
  try {
    const appends = CONFIRM_SAMPLE_EVERY * 4;
    for (let index = 0; index < appends; index++) {
      await log.append({ body: new Uint8Array([index]) });
    }
    await journal.append(new Uint8Array([1]));
    const streamFlushes = flushes.filter((flush) => flush.kind === 'stream');
    assert.equal(streamFlushes.length, appends, 'one group commit per awaited append');
    assert.ok(streamFlushes.every((flush) => flush.writeMs >= 0 && flush.syncMs !== null));
    assert.ok(
      flushes.some((flush) => flush.kind === 'journal'),
      'the journal says it is one',
    );
    assert.equal(confirms.length, 4, 'one append in CONFIRM_SAMPLE_EVERY is timed');
    assert.ok(confirms.every((ms) => ms >= 0));

    detach();
    const heard = flushes.length;
    await log.append({ body: new Uint8Array([0]) });
    assert.equal(flushes.length, heard, 'a detached sink hears nothing');
  } finally {
    detach();
    await log.close();
    await journal.close();
  }
});
