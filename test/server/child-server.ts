/** Starts and stops server-child.js for the crash, reconnect and shutdown tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./server-child.js', import.meta.url));
const START_TIMEOUT_MS = 10_000;

export interface RunningServer {
  readonly child: ChildProcess;
  readonly port: number;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

export async function startServer(dataDir: string, port = 0): Promise<RunningServer> {
  const child = spawn(process.execPath, [CHILD, dataDir, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the server child did not start in time'));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error('the server child exited before listening'));
    });
  });
  return { child, port: listening, exited };
}

export async function killServer(
  server: RunningServer,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<number | null> {
  server.child.kill(signal);
  return server.exited;
}
