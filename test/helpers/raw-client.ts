/**
 * A client that speaks frames over a raw socket, without the SDK: for server tests that must
 * send exactly what they mean (malformed frames, split frames, out-of-order frames).
 */
import * as net from 'node:net';
import { Reader, Writer } from '../../src/protocol/codec.js';
import {
  FrameDecoder,
  OPCODES,
  PROTOCOL_VERSION,
  writeFrameHeader,
  type Frame,
  type Opcode,
} from '../../src/protocol/frame.js';
import { readError } from '../../src/protocol/frames.js';
import { FRAME_BYTES_MAX } from '../../src/limits.js';

export function encodeFrame(
  opcode: Opcode,
  requestId: number,
  write?: (writer: Writer) => void,
  flags = 0,
): Uint8Array {
  const writer = new Writer();
  writer.u32(0).u8(0).u8(0).u32(0);
  write?.(writer);
  const bytes = Uint8Array.from(writer.finish());
  writeFrameHeader(bytes, opcode, flags, requestId, bytes.length);
  return bytes;
}

export class RawClient {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder(FRAME_BYTES_MAX, (frame) => {
      this.frames.push({ ...frame, payload: Uint8Array.from(frame.payload) });
      this.#wake();
    });
    socket.on('data', (chunk) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async hello(name = 'raw'): Promise<Frame> {
    this.send(
      encodeFrame(OPCODES.HELLO, 1, (writer) =>
        writer.u16(PROTOCOL_VERSION).string(name).bytes(null),
      ),
    );
    return this.waitFor((frame) => frame.requestId === 1);
  }

  /** Waits (bounded) for a frame matching `predicate`, removing it from `frames`. */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(predicate);
      if (index >= 0) return this.frames.splice(index, 1)[0]!;
      if (this.closed) throw new Error('connection closed before the frame came');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server closed the connection (bounded). */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function errorOf(frame: Frame): { code: string; message: string } {
  const error = readError(new Reader(frame.payload));
  return { code: error.code, message: error.message };
}
