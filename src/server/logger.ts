/**
 * Structured logs: one JSON object per line on stderr ({"time", "level", "event", ...fields}),
 * so they can be shipped and queried as they are.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(RANK, value);
}

export function jsonLogger(
  minimum: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  return (level, event, fields = {}) => {
    if (RANK[level] < RANK[minimum]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }) + '\n');
  };
}

/** Drops everything: for tests and embedded use. */
export const silentLogger: Logger = () => undefined;
