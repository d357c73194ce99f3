/**
 * The flags `weir serve` is run with by `npm start` and the benchmarks (the bin's shebang
 * cannot carry them portably: see main.ts; with the bin, set NODE_OPTIONS to them).
 *
 * --max-semi-space-size=8: V8's young generation bounded at 8 MiB semi-spaces instead of 16.
 * A broker's garbage is short-lived (messages on their way); the smaller nursery cut the peak
 * RSS of a 1,000,000-message backlog drain (W5) from ~148 to ~130 MiB with no throughput
 * change measured in W1 or W5 (docs/performance.md). V8 reads it when it sets the heap up,
 * so it has to be a command-line flag: `v8.setFlagsFromString` at start-up had no effect.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
