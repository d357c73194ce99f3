/**
 * A `weir serve` child process for one run: a fresh data directory, port 0 (the port is read
 * from the line it prints: `… listening on weir://127.0.0.1:PORT …`), log level warn.
 * SIGTERM stops it gracefully (and writes its CPU profile when profiling); SIGKILL follows if
 * it has not exited within STOP_MS_MAX. The data directory is removed afterwards.
 *
 * With `amqp`, the child also gets `--amqp-port 0` (its AMQP 0-9-1 gateway on a free port,
 * read from the line `weir AMQP 0-9-1 on amqp://127.0.0.1:PORT`, printed before the
 * `listening on` line); `amqpUrl` is then where amqplib connects (guest, allowed on loopback).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const START_MS_MAX = 15_000;
const STOP_MS_MAX = 15_000;
/** Start attempts: a fixed HTTP console port may be taken for a moment by another weir. */
const START_ATTEMPTS_MAX = 3;
const START_RETRY_DELAY_MS = 2000;
/** Without the console's line, the server counts as started after this long alive. */
const SETTLE_MS = 1500;

export interface WeirServer {
  readonly url: string;
  /** amqp://guest:guest@127.0.0.1:PORT when started with `amqp`, else null. */
  readonly amqpUrl: string | null;
  readonly pid: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface WeirServerOptions {
  /** Write a V8 CPU profile of the server into this directory (node --cpu-prof). */
  readonly cpuProfileDir?: string;
  /** More node flags for the server (e.g. --trace-gc), from WEIR_BENCH_SERVER_NODE_FLAGS. */
  readonly extraNodeFlags?: readonly string[];
  /** Append the server's stdout and stderr to this file (WEIR_BENCH_SERVER_LOG). */
  readonly logFile?: string;
  /** Where the data directory is made (default: the OS temp dir, which must be a real disk). */
  readonly parentDir?: string;
  /** Also listen for AMQP 0-9-1 (`--amqp-port 0`: a free port). */
  readonly amqp?: boolean;
}

let httpPortFlag: boolean | null = null;

/** Whether this checkout's `weir serve` takes --http-port (then the bench passes 0: no clash). */
function serveTakesHttpPort(): boolean {
  if (httpPortFlag === null) {
    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], {
      encoding: 'utf8',
      timeout: START_MS_MAX,
    });
    httpPortFlag = /--http-port\b/.test(help.stdout ?? '');
  }
  return httpPortFlag;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function startOnce(options: WeirServerOptions): Promise<WeirServer> {
  const dataDir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'weir-bench-compare-'));
  const nodeFlags: string[] = [];
  if (options.cpuProfileDir) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  }
  nodeFlags.push(...NODE_FLAGS, ...(options.extraNodeFlags ?? []));
  const serveFlags = ['--data-dir', dataDir, '--port', '0', '--log-level', 'warn'];
  if (serveTakesHttpPort()) serveFlags.push('--http-port', '0');
  if (options.amqp) serveFlags.push('--amqp-port', '0');
  const child = spawn(process.execPath, [...nodeFlags, CLI, 'serve', ...serveFlags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    errors = (errors + chunk).slice(-4000);
    if (options.logFile) appendFileSync(options.logFile, chunk);
  });
  if (options.logFile) {
    child.stdout.on('data', (chunk: string) => appendFileSync(options.logFile!, chunk));
  }
  child.stdout.setEncoding('utf8');
  const exited = waitForExit(child);
  try {
    // Set by the stdout listener (an object: a `let` would stay narrowed to null here).
    const found: { amqpPort: number | null } = { amqpPort: null };
    const port = await new Promise<number>((resolve, reject) => {
      let listeningPort: number | null = null;
      const timer = setTimeout(
        () => reject(new Error(`weir serve did not start within ${START_MS_MAX} ms`)),
        START_MS_MAX,
      );
      let settleTimer: ReturnType<typeof setTimeout> | null = null;
      const ready = (): void => {
        clearTimeout(timer);
        if (settleTimer) clearTimeout(settleTimer);
        resolve(listeningPort!);
      };
      child.stdout.on('data', (chunk: string) => {
        output = (output + chunk).slice(-4000);
        const amqpMatch = /AMQP 0-9-1 on amqp:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (amqpMatch) found.amqpPort = Number(amqpMatch[1]);
        const match = /listening on weir:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (match && listeningPort === null) {
          listeningPort = Number(match[1]);
          // serve starts its HTTP console after the TCP listener; a clash on the console's
          // port ends the process then. Ready once the console is up, or after a quiet spell.
          settleTimer = setTimeout(ready, SETTLE_MS);
        }
        if (listeningPort !== null && /HTTP API on /.test(output)) ready();
      });
      void exited.then(() => {
        clearTimeout(timer);
        if (settleTimer) clearTimeout(settleTimer);
        reject(new Error(`weir serve exited while starting: ${errors.trim() || output.trim()}`));
      });
    });
    // Keep reading its output so a full pipe never blocks it.
    child.stdout.resume();
    if (options.amqp && found.amqpPort === null) {
      throw new Error(`weir serve --amqp-port 0 printed no AMQP line: ${output.trim()}`);
    }
    return {
      url: `weir://127.0.0.1:${port}`,
      amqpUrl: found.amqpPort === null ? null : `amqp://guest:guest@127.0.0.1:${found.amqpPort}`,
      pid: child.pid!,
      dataDir,
      stop: async () => {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_MS_MAX);
        await exited;
        clearTimeout(killer);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

export async function startWeirServer(options: WeirServerOptions = {}): Promise<WeirServer> {
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= START_ATTEMPTS_MAX; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      if (attempt < START_ATTEMPTS_MAX) {
        await new Promise((resolve) => setTimeout(resolve, START_RETRY_DELAY_MS));
      }
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
