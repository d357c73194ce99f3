/**
 * Outgoing frames encoded back to back into one buffer and handed to the transport together:
 * `take()` copies out what was encoded since the last take (one allocation and one socket
 * write per flush instead of one per frame).
 *
 * The buffer (a slab) is held only between the first frame of a flush and its take: take()
 * gives it back to a SlabPool, so an idle connection holds no slab at all, and busy ones
 * reuse the pool's instead of allocating one each flush. A slab that grew past SHRINK_FACTOR
 * slabs for a large flush is dropped rather than pooled.
 *
 * Concurrency: a pool is used from one thread (Node's); a FrameBatch by its one owner.
 */
import { Writer } from './codec.js';
import { FRAME_HEADER_BYTES, writeFrameHeader, type Opcode } from './frame.js';

const SHRINK_FACTOR = 4;

/** Idle slabs of one size, shared by the FrameBatches of one server: at most `slabsMax`. */
export class SlabPool {
  readonly slabBytes: number;
  readonly #slabsMax: number;
  readonly #idle: Writer[] = [];

  constructor(slabBytes: number, slabsMax: number) {
    this.slabBytes = slabBytes;
    this.#slabsMax = slabsMax;
  }

  /** Slabs waiting to be reused. */
  get idleCount(): number {
    return this.#idle.length;
  }

  acquire(): Writer {
    return this.#idle.pop() ?? new Writer(this.slabBytes);
  }

  /** Takes back an emptied slab (kept if the pool has room and it did not grow too much). */
  release(writer: Writer): void {
    writer.reset();
    if (this.#idle.length < this.#slabsMax && writer.capacity <= this.slabBytes * SHRINK_FACTOR)
      this.#idle.push(writer);
  }
}

export class FrameBatch {
  readonly #pool: SlabPool;
  /** The slab of the flush being encoded; null between flushes. */
  #writer: Writer | null = null;
  #frameStart = 0;

  /** `pool`: where slabs come from and go back to; a number: a private pool of one slab. */
  constructor(pool: SlabPool | number) {
    this.#pool = typeof pool === 'number' ? new SlabPool(pool, 1) : pool;
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.#writer === null ? 0 : this.#writer.position;
  }

  /** Whether a slab is held (only while frames wait for take()). */
  get holdsSlab(): boolean {
    return this.#writer !== null;
  }

  /** Starts a frame: write its payload into the writer returned, then call end() or abort(). */
  begin(): Writer {
    const writer = (this.#writer ??= this.#pool.acquire());
    this.#frameStart = writer.position;
    writer.position += FRAME_HEADER_BYTES;
    if (writer.position > writer.capacity) {
      writer.position = this.#frameStart;
      writer.u32(0).u32(0).u16(0); // grows the buffer
    }
    return writer;
  }

  /** Fills in the header of the frame begun last; returns its size in bytes. */
  end(opcode: Opcode, flags: number, requestId: number): number {
    const bytes = this.#writer!.view(this.#frameStart, this.#writer!.position);
    writeFrameHeader(bytes, opcode, flags, requestId, bytes.length);
    return bytes.length;
  }

  /** Drops the frame begun last. */
  abort(): void {
    if (this.#writer !== null) this.#writer.position = this.#frameStart;
  }

  /** Drops every frame encoded since the last take. */
  discard(): void {
    this.#giveBack();
  }

  /** A copy of the frames encoded since the last take, or null if none. */
  take(): Uint8Array | null {
    const writer = this.#writer;
    if (writer === null) return null;
    const bytes = writer.position === 0 ? null : writer.view(0, writer.position).slice();
    this.#giveBack();
    return bytes;
  }

  #giveBack(): void {
    if (this.#writer === null) return;
    this.#pool.release(this.#writer);
    this.#writer = null;
  }
}
