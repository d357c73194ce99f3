/**
 * Runs the built `weir` as a child process: `runWeir` for a command that ends (with stdin and
 * environment of the test's choosing), `startServe` for `weir serve`, whose output it follows:
 * waits on it (bounded in time, no polling), reads its JSON log lines, stops it with SIGTERM.
 */
import { execFile, spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** A serve child starts (or refuses to) within this. */
export const SERVE_START_MS = 15_000;
/** A command run ends within this, or it is killed (and its exit code fails the test). */
export const RUN_MS = 15_000;

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, which is then closed (default: closed at once). */
  readonly stdin?: string;
  /** Variables added to the environment (which has no WEIR_ variables of its own). */
  readonly env?: Record<string, string>;
}

/** Runs `weir ...args` to its end. */
export function runWeir(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise<RunResult>((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      { timeout: RUN_MS, env: cleanEnvironment(options.env) },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}

export interface ServeProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines written so far (stderr lines that start with `{`). */
  logLines(): Record<string, unknown>[];
  /** Resolves once `pattern` matches stdout or stderr; rejects past `timeoutMs` or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The exit code (signal: -1). */
  readonly exited: Promise<number>;
  /** SIGTERM (if it still runs) and wait for the exit. */
  stop(): Promise<number>;
}

/** A copy of this process' environment without the WEIR_ variables a developer may have set. */
export function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('WEIR_')) environment[name] = value;
  }
  return { ...environment, ...extra };
}

export function startServe(args: readonly string[]): ServeProcess {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnvironment(),
  });
  return followServe(child);
}

/** Follows a serve child spawned with stdout and stderr piped (startServe, the cluster tests). */
export function followServe(
  child: ChildProcessByStdio<null, Readable, Readable>,
  startMs = SERVE_START_MS,
): ServeProcess {
  let stdout = '';
  let stderr = '';
  // 'close': after the exit and after the last output was read.
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  let running = true;
  void exited.then(() => (running = false));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const waitFor = (pattern: RegExp, timeoutMs = startMs) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(stdout) && !pattern.test(stderr)) return false;
        finish();
        resolve();
        return true;
      };
      const onExit = () => {
        if (check()) return;
        finish();
        reject(new Error(`exited before ${pattern} (stdout: ${stdout}; stderr: ${stderr})`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(`no ${pattern} within ${timeoutMs} ms (stdout: ${stdout}; stderr: ${stderr})`),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        child.off('close', onExit);
      };
      if (check()) return;
      if (!running) {
        onExit();
        return;
      }
      // After the buffers' own listeners (added above), so the new chunk is in them.
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.on('close', onExit);
    });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () =>
      stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    waitFor,
    exited,
    stop: async () => {
      if (running) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The `weir://host:port` a started serve prints on stdout. */
export function servedUrl(serve: ServeProcess): string {
  const match = /listening on (weirs?:\/\/\S+)/.exec(serve.stdout());
  if (match === null) throw new Error(`no address in ${serve.stdout()}`);
  return match[1]!;
}
