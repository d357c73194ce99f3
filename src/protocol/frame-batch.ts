/**
 * Outgoing frames encoded back to back into one reused buffer and handed to the transport
 * together: `take()` copies out what was encoded since the last take (one allocation and one
 * socket write per flush instead of one per frame) and starts over at the beginning. A flush
 * that needed more than SHRINK_FACTOR slabs gives the large buffer back.
 */
import { Writer } from './codec.js';
import { FRAME_HEADER_BYTES, writeFrameHeader, type Opcode } from './frame.js';

const SHRINK_FACTOR = 4;

export class FrameBatch {
  readonly #writer: Writer;
  readonly #slabBytes: number;
  #frameStart = 0;

  constructor(slabBytes: number) {
    this.#slabBytes = slabBytes;
    this.#writer = new Writer(slabBytes);
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.#writer.position;
  }

  /** Starts a frame: write its payload into the writer returned, then call end() or abort(). */
  begin(): Writer {
    this.#frameStart = this.#writer.position;
    this.#writer.position += FRAME_HEADER_BYTES;
    if (this.#writer.position > this.#writer.capacity) {
      this.#writer.position = this.#frameStart;
      this.#writer.u32(0).u32(0).u16(0); // grows the buffer
    }
    return this.#writer;
  }

  /** Fills in the header of the frame begun last; returns its size in bytes. */
  end(opcode: Opcode, flags: number, requestId: number): number {
    const bytes = this.#writer.view(this.#frameStart, this.#writer.position);
    writeFrameHeader(bytes, opcode, flags, requestId, bytes.length);
    return bytes.length;
  }

  /** Drops the frame begun last. */
  abort(): void {
    this.#writer.position = this.#frameStart;
  }

  /** Drops every frame encoded since the last take. */
  discard(): void {
    if (this.#writer.capacity > this.#slabBytes * SHRINK_FACTOR)
      this.#writer.renew(this.#slabBytes);
    this.#writer.reset();
  }

  /** A copy of the frames encoded since the last take, or null if none. */
  take(): Uint8Array | null {
    const writer = this.#writer;
    if (writer.position === 0) return null;
    const bytes = writer.view(0, writer.position).slice();
    if (writer.capacity > this.#slabBytes * SHRINK_FACTOR) writer.renew(this.#slabBytes);
    writer.reset();
    return bytes;
  }
}
