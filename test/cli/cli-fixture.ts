/**
 * Runs the built `weir` command (dist/src/cli/main.js) as a child process against a memory
 * broker behind a WeirServer on port 0 in this process. The child is asynchronous (the server
 * must keep serving while it runs) and killed past CLI_RUN_MS.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BrokerOptions } from '../../src/broker/index.js';
import type { Client } from '../../src/protocol/index.js';
import { startTestServer, type TestServer } from '../server/in-process-server.js';

/** One CLI run ends within this, or it is killed (and the test fails on its exit code). */
export const CLI_RUN_MS = 10_000;

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliHarness {
  readonly server: TestServer;
  /** A client of the same broker, to set up and check state. */
  readonly client: Client;
  /** Runs `weir ...args --url <server>`. */
  readonly run: (args: readonly string[]) => Promise<CliResult>;
  /** Starts `weir ...args --url <server>`; resolves when it ends. */
  readonly start: (args: readonly string[]) => { child: ChildProcess; done: Promise<CliResult> };
}

/** `brokerOptions`: the broker behind the server (default a memory broker). */
export async function withCli(
  body: (harness: CliHarness) => Promise<void>,
  brokerOptions?: BrokerOptions,
): Promise<void> {
  const server = await startTestServer({}, brokerOptions);
  const client = server.broker.connect();
  const start = (args: readonly string[]) => {
    let child: ChildProcess | undefined;
    const done = new Promise<CliResult>((resolve) => {
      const environment: NodeJS.ProcessEnv = { ...process.env };
      delete environment.WEIR_URL;
      child = execFile(
        process.execPath,
        [MAIN, ...args, '--url', server.url],
        { timeout: CLI_RUN_MS, env: environment },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
    return { child: child!, done };
  };
  try {
    await body({ server, client, start, run: (args) => start(args).done });
  } finally {
    await client.close();
    await server.close();
  }
}
