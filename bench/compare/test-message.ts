/**
 * The body every workload sends: a header of 16 bytes, then filler up to the message size.
 *
 *   [0..4)   sequence number, u32 little-endian (the consumer counts unique ones)
 *   [4..8)   zero
 *   [8..16)  send time, ns of process.hrtime.bigint() (u64 little-endian); producer and
 *            consumer are one process, so the end-to-end latency needs no clock sync
 */
export const MESSAGE_HEADER_BYTES = 16;

const FILLER_BYTE = 0x61;

export class MessageFactory {
  readonly #template: Buffer;

  constructor(size: number) {
    if (!(Number.isInteger(size) && size >= MESSAGE_HEADER_BYTES)) {
      throw new Error(`message size must be an integer >= ${MESSAGE_HEADER_BYTES}`);
    }
    this.#template = Buffer.alloc(size, FILLER_BYTE);
  }

  /** A new buffer each time: clients may keep a reference until the bytes are written. */
  make(sequence: number): Buffer {
    const body = Buffer.allocUnsafe(this.#template.length);
    this.#template.copy(body, MESSAGE_HEADER_BYTES, MESSAGE_HEADER_BYTES);
    body.writeUInt32LE(sequence, 0);
    body.writeUInt32LE(0, 4);
    body.writeBigUInt64LE(process.hrtime.bigint(), 8);
    return body;
  }
}

export function nowNanoseconds(): bigint {
  return process.hrtime.bigint();
}

/** Sequence number and age in ms of a received body. */
export function readMessage(body: Uint8Array): { sequence: number; ageMs: number } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const sentAt = view.getBigUint64(8, true);
  return {
    sequence: view.getUint32(0, true),
    ageMs: Number(process.hrtime.bigint() - sentAt) / 1e6,
  };
}
