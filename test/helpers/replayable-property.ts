/**
 * The plumbing every model-based property test shares: a seed from WEIR_SEED (or a fresh one,
 * printed), WEIR_RUNS and WEIR_PATH (fast-check's path to the shrunk case), and a failure
 * message that says how to replay it.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';

export interface Replay {
  readonly seed: number;
  readonly numRuns: number;
  readonly path: string | undefined;
}

/** The replay settings of this run: WEIR_SEED, WEIR_RUNS (default `runsDefault`), WEIR_PATH. */
export function replayFromEnvironment(runsDefault: number): Replay {
  const text = process.env['WEIR_SEED'];
  let seed: number;
  if (text === undefined || text === '') {
    seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0;
  } else {
    seed = Number(text);
    assert.ok(Number.isInteger(seed), `WEIR_SEED must be an integer, got ${text}`);
  }
  const numRuns = Number(process.env['WEIR_RUNS'] ?? runsDefault);
  assert.ok(Number.isInteger(numRuns) && numRuns > 0, 'WEIR_RUNS must be a positive integer');
  return { seed, numRuns, path: process.env['WEIR_PATH'] };
}

/** Runs `property` under `replay` for at most `timeLimitMs`; a failure names the seed. */
export async function assertReplayable<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  replay: Replay,
  timeLimitMs: number,
): Promise<void> {
  try {
    await fc.assert(property, {
      seed: replay.seed,
      numRuns: replay.numRuns,
      interruptAfterTimeLimit: timeLimitMs,
      markInterruptAsFailure: false,
      ...(replay.path ? { path: replay.path } : {}),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : '';
    throw new Error(`${name} failed; replay with WEIR_SEED=${replay.seed}\n${cause}\n${message}`, {
      cause: error,
    });
  }
}
