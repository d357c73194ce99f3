/**
 * The TCP transport (node:net). Writes made in one tick are corked and go out together on the
 * next `process.nextTick`, so a flush of many frames costs one writev system call.
 *
 * Chunk ownership: node:net hands every read its own freshly allocated buffer and never reuses
 * it, so the chunks passed to `handlers.data` satisfy the Transport contract without a copy.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { CLIENT_CLOSE_WAIT_MS_MAX } from '../limits.js';
import { WeirError } from '../protocol/index.js';
import type {
  Transport,
  TransportAddress,
  TransportConnector,
  TransportHandlers,
} from './transport.js';

/** A Transport over a connected socket: a plain one here, a TLS one (tls-transport.ts). */
export class SocketTransport implements Transport {
  readonly #socket: Socket;
  #corked = false;

  constructor(socket: Socket, handlers: TransportHandlers) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => handlers.data(chunk));
    socket.on('drain', () => handlers.drain());
    let failure: Error | null = null;
    // 'error' is always followed by 'close'; report the error there, once.
    socket.on('error', (error) => (failure = error));
    socket.once('close', () => handlers.closed(failure));
  }

  write(bytes: Uint8Array): boolean {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    return this.#socket.write(bytes);
  }

  end(): void {
    this.#socket.end();
    // The server closes its side when it sees ours end; if it does not, cut the socket.
    setTimeout(() => this.#socket.destroy(), CLIENT_CLOSE_WAIT_MS_MAX).unref();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export function describeError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.message;
}

export const connectTcp: TransportConnector = (
  address: TransportAddress,
  handlers: TransportHandlers,
  timeoutMs: number,
) =>
  new Promise<Transport>((resolve, reject) => {
    const socket = netConnect({ host: address.host, port: address.port, noDelay: true });
    const onError = (error: Error): void => {
      clearTimeout(timer);
      reject(
        new WeirError('CLOSED', `cannot reach ${address.url}: ${describeError(error)}`, {
          cause: error,
        }),
      );
    };
    const timer = setTimeout(() => {
      socket.off('error', onError);
      socket.on('error', () => undefined); // destroy() below may still report one
      socket.destroy();
      reject(new WeirError('CLOSED', `cannot reach ${address.url}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(new SocketTransport(socket, handlers));
    });
  });
