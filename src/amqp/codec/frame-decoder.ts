/**
 * An incremental AMQP 0-9-1 frame decoder: bytes in, in any chunking; whole frames out.
 * It checks structure only, not protocol sequence (content after basic.publish, channel
 * states), which is the gateway's.
 *
 * Faults, all AmqpFrameError (nothing else is thrown for any input), after which every push
 * throws the same error again, and the frames already decoded from the failing chunk are
 * dropped (the connection is closing):
 *   501 frame-error: an unknown frame type; a declared size over frame-max (refused from the
 *       7-byte frame header, before any payload is buffered); a frame-end octet that is not
 *       0xCE; a heartbeat on a channel other than 0 or with a payload.
 *   502 syntax-error: a method's or content header's payload truncated or with bytes left
 *       over; a longlong or body-size above 2^53 - 1; a malformed field table or property list.
 *   505 unexpected-frame: a content header for a class other than basic (60), the only class
 *       with content.
 *   540 not-implemented: an unknown class-id/method-id.
 *
 * Memory: a frame that arrives whole inside one chunk is decoded in place; only its body
 * payload or property bytes are copied out. A frame split over chunks is gathered in one
 * buffer of exactly its size (at most frame-max), and its payload or property bytes are
 * subarrays of that buffer. No frame refers to the caller's chunk after push returns.
 * Not safe for concurrent use (one decoder per connection, fed from one place).
 */
import { BASIC_CLASS_ID, decodePropertiesRange, type BasicProperties } from './properties.js';
import {
  CONTENT_HEADER_PREFIX_BYTES,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEADER_BYTES,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_OVERHEAD_BYTES,
  REPLY_CODES,
} from './constants.js';
import { AmqpFrameError } from './errors.js';
import { FRAME_MAX_LIMIT, FRAME_MIN_SIZE } from './limits.js';
import { checkInteger } from './byte-writer.js';
import { decodeMethodRange } from './method-codec.js';
import type { AmqpMethod } from './method-arguments.js';

export type Frame =
  | { readonly type: 'method'; readonly channel: number; readonly method: AmqpMethod }
  | {
      readonly type: 'header';
      readonly channel: number;
      readonly classId: number;
      readonly bodySize: number;
      /** The property flags and list as received, for pass-through. */
      readonly propertyBytes: Uint8Array;
      /** The same, decoded (the decoder validates them anyway). */
      readonly properties: BasicProperties;
    }
  | { readonly type: 'body'; readonly channel: number; readonly payload: Uint8Array }
  | { readonly type: 'heartbeat' };

export interface FrameDecoderOptions {
  /** The largest whole frame accepted (7 header bytes + payload + frame-end), from FRAME_MIN_SIZE up. */
  readonly frameMax: number;
}

const HEARTBEAT: Frame = Object.freeze({ type: 'heartbeat' });
const UINT32_LIMIT = 2 ** 32;
const SAFE_HIGH_WORD_LIMIT = 2 ** 21;

export class FrameDecoder {
  #frameMax: number;
  #failure: AmqpFrameError | null = null;
  /** The header of a frame split over chunks, while fewer than 7 of its bytes arrived. */
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  /** The payload and frame-end of a frame split over chunks, once its header is read. */
  #frame: Uint8Array | null = null;
  #frameFilled = 0;
  #frameType = 0;
  #frameChannel = 0;

  constructor(options: FrameDecoderOptions) {
    this.#frameMax = FrameDecoder.#checkFrameMax(options.frameMax);
  }

  get frameMax(): number {
    return this.#frameMax;
  }

  /** Applies to every frame whose header has not been read yet (set it after tune-ok). */
  set frameMax(value: number) {
    this.#frameMax = FrameDecoder.#checkFrameMax(value);
  }

  /** Bytes held of a frame not yet complete. */
  get bufferedBytes(): number {
    return this.#frame === null ? this.#headerFilled : FRAME_HEADER_BYTES + this.#frameFilled;
  }

  static #checkFrameMax(value: number): number {
    checkInteger(value, FRAME_MIN_SIZE, FRAME_MAX_LIMIT, 'frameMax');
    return value;
  }

  /** Feeds bytes as they arrive; returns the frames they complete, in order. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#failure !== null) throw this.#failure;
    try {
      return this.#push(chunk);
    } catch (error) {
      if (error instanceof AmqpFrameError) this.#failure = error;
      throw error;
    }
  }

  #push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    const length = chunk.length;
    let position = 0;
    while (position < length) {
      if (this.#frame === null) {
        if (this.#headerFilled === 0 && length - position >= FRAME_HEADER_BYTES) {
          const type = chunk[position]!;
          const channel = (chunk[position + 1]! << 8) | chunk[position + 2]!;
          const size =
            chunk[position + 3]! * 0x100_0000 +
            ((chunk[position + 4]! << 16) | (chunk[position + 5]! << 8) | chunk[position + 6]!);
          this.#checkHeader(type, channel, size);
          const payloadStart = position + FRAME_HEADER_BYTES;
          const payloadEnd = payloadStart + size;
          if (payloadEnd < length) {
            // The whole frame is in this chunk: decode it in place.
            if (chunk[payloadEnd] !== FRAME_END) this.#badFrameEnd(chunk[payloadEnd]!, channel);
            frames.push(this.#decode(type, channel, chunk, payloadStart, payloadEnd, false));
            position = payloadEnd + 1;
            continue;
          }
          this.#startFrame(type, channel, size);
          position = payloadStart;
        } else {
          const take = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, length - position);
          this.#header.set(chunk.subarray(position, position + take), this.#headerFilled);
          this.#headerFilled += take;
          position += take;
          if (this.#headerFilled < FRAME_HEADER_BYTES) break;
          const header = this.#header;
          const type = header[0]!;
          const channel = (header[1]! << 8) | header[2]!;
          const size =
            header[3]! * 0x100_0000 + ((header[4]! << 16) | (header[5]! << 8) | header[6]!);
          this.#headerFilled = 0;
          this.#checkHeader(type, channel, size);
          this.#startFrame(type, channel, size);
        }
      }
      const frame = this.#frame!;
      const take = Math.min(frame.length - this.#frameFilled, length - position);
      frame.set(chunk.subarray(position, position + take), this.#frameFilled);
      this.#frameFilled += take;
      position += take;
      if (this.#frameFilled < frame.length) break;
      const payloadEnd = frame.length - 1;
      const channel = this.#frameChannel;
      this.#frame = null;
      this.#frameFilled = 0;
      if (frame[payloadEnd] !== FRAME_END) this.#badFrameEnd(frame[payloadEnd]!, channel);
      frames.push(this.#decode(this.#frameType, channel, frame, 0, payloadEnd, true));
    }
    return frames;
  }

  #checkHeader(type: number, channel: number, size: number): void {
    if (type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY) {
      if (type !== FRAME_HEARTBEAT) {
        throw new AmqpFrameError(REPLY_CODES.frameError, `unknown frame type ${type}`, { channel });
      }
      if (channel !== 0) {
        throw new AmqpFrameError(REPLY_CODES.frameError, `heartbeat on channel ${channel}`, {
          channel,
        });
      }
      if (size !== 0) {
        throw new AmqpFrameError(REPLY_CODES.frameError, `heartbeat with ${size} payload bytes`);
      }
    }
    if (size + FRAME_OVERHEAD_BYTES > this.#frameMax) {
      throw new AmqpFrameError(
        REPLY_CODES.frameError,
        `frame of ${size + FRAME_OVERHEAD_BYTES} bytes exceeds frame-max ${this.#frameMax}`,
        { channel },
      );
    }
  }

  #startFrame(type: number, channel: number, size: number): void {
    this.#frameType = type;
    this.#frameChannel = channel;
    this.#frame = new Uint8Array(size + 1);
    this.#frameFilled = 0;
  }

  #badFrameEnd(octet: number, channel: number): never {
    throw new AmqpFrameError(
      REPLY_CODES.frameError,
      `frame-end octet 0x${octet.toString(16).padStart(2, '0')}, not 0xce`,
      { channel },
    );
  }

  /** Decodes one frame's payload, `bytes[start, end)`; `owned`: `bytes` is the decoder's own. */
  #decode(
    type: number,
    channel: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    owned: boolean,
  ): Frame {
    switch (type) {
      case FRAME_METHOD:
        return { type: 'method', channel, method: decodeMethodRange(channel, bytes, start, end) };
      case FRAME_HEADER:
        return decodeContentHeader(channel, bytes, start, end, owned);
      case FRAME_BODY:
        return {
          type: 'body',
          channel,
          payload: owned ? bytes.subarray(start, end) : copy(bytes, start, end),
        };
      default:
        return HEARTBEAT;
    }
  }
}

function decodeContentHeader(
  channel: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  owned: boolean,
): Frame {
  if (end - start < CONTENT_HEADER_PREFIX_BYTES + 2) {
    throw new AmqpFrameError(
      REPLY_CODES.syntaxError,
      `content header of ${end - start} bytes is truncated`,
      { channel },
    );
  }
  const classId = (bytes[start]! << 8) | bytes[start + 1]!;
  if (classId !== BASIC_CLASS_ID) {
    throw new AmqpFrameError(
      REPLY_CODES.unexpectedFrame,
      `content header for class ${classId}; only basic (60) has content`,
      { channel, classId },
    );
  }
  const high = readUint32(bytes, start + 4);
  if (high >= SAFE_HIGH_WORD_LIMIT) {
    throw new AmqpFrameError(REPLY_CODES.syntaxError, 'content body-size above 2^53 - 1', {
      channel,
      classId,
    });
  }
  const bodySize = high * UINT32_LIMIT + readUint32(bytes, start + 8);
  const propertiesStart = start + CONTENT_HEADER_PREFIX_BYTES;
  const properties = decodePropertiesRange(bytes, propertiesStart, end, channel);
  const propertyBytes = owned
    ? bytes.subarray(propertiesStart, end)
    : copy(bytes, propertiesStart, end);
  return { type: 'header', channel, classId, bodySize, propertyBytes, properties };
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (
    bytes[at]! * 0x100_0000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
  );
}

/** A plain Uint8Array copy (a Buffer's slice would be a view). */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const result = new Uint8Array(end - start);
  result.set(bytes.subarray(start, end));
  return result;
}
