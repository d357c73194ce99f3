/**
 * A cluster follower as the SDK sees it, for the node-list tests: it reads the HELLO frame
 * and answers an ERROR NOT_LEADER for it (written with the protocol layer's own encoder),
 * whose message ends with ` leader=HOST:PORT` when it is given a leader, then ends the
 * connection, as src/cluster's follower listener does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Writer } from '../../src/protocol/codec.js';
import { FrameDecoder, OPCODES, writeFrameHeader } from '../../src/protocol/frame.js';
import { writeError } from '../../src/protocol/frames.js';
import { PRE_HELLO_FRAME_BYTES_MAX } from '../../src/limits.js';

export class FakeFollower {
  /** HELLOs answered. */
  hellos = 0;
  /** HOST:PORT named in the answer; null: "no leader is elected yet". */
  leader: string | null;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, leader: string | null) {
    this.#server = server;
    this.leader = leader;
  }

  static async start(leader: string | null): Promise<FakeFollower> {
    const server = createServer();
    const follower = new FakeFollower(server, leader);
    server.on('connection', (socket) => follower.#serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return follower;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** HOST:PORT, as a list in a weir:// address names it. */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    let answered = false;
    const decoder = new FrameDecoder(PRE_HELLO_FRAME_BYTES_MAX, (frame) => {
      if (answered || frame.opcode !== OPCODES.HELLO) return;
      answered = true;
      this.hellos++;
      const message =
        this.leader === null
          ? 'this node is not the leader, and no leader is elected yet'
          : `this node is not the leader leader=${this.leader}`;
      const writer = new Writer();
      writer.u32(0).u32(0).u16(0); // the header, written once the length is known
      writeError(writer, { code: 'NOT_LEADER', message });
      const bytes = writer.finish();
      writeFrameHeader(bytes, OPCODES.ERROR, 0, frame.requestId, bytes.length);
      socket.end(bytes.slice());
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A port on 127.0.0.1 with nothing listening (it was bound, then closed). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
