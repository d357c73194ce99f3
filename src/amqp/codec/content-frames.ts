/**
 * Content frames for one message: a content header frame, then body frames of at most
 * frameMax - 8 payload bytes each (no body frame at all for an empty body), in one buffer.
 *
 * Content header payload: class-id (u16), weight (u16, always 0), body-size (u64), then the
 * property flags and property list (encodeProperties, or raw bytes passed through).
 */
import {
  CONTENT_HEADER_PREFIX_BYTES,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD_BYTES,
} from './constants.js';
import { FRAME_MAX_LIMIT, FRAME_MIN_SIZE } from './limits.js';
import { assert } from '../../util/index.js';
import { checkInteger } from './byte-writer.js';

const CHANNEL_MAX = 0xffff;
const UINT32_LIMIT = 2 ** 32;
/** Byte offsets inside a frame: its header fields, then a content header's fields. */
const CHANNEL_AT = 1;
const SIZE_AT = 3;
const CLASS_ID_AT = FRAME_HEADER_BYTES;
const WEIGHT_AT = CLASS_ID_AT + 2;
const BODY_SIZE_AT = WEIGHT_AT + 2;
const PROPERTIES_AT = FRAME_HEADER_BYTES + CONTENT_HEADER_PREFIX_BYTES;

/**
 * The header frame and body frames of a message. `frameMax` is the connection's negotiated
 * frame-max (at least FRAME_MIN_SIZE; map tune's 0, "no limit", to a real bound first).
 * RangeError if `bodySize` is not `body.length` or the header frame alone exceeds `frameMax`.
 */
export function encodeContentFrames(
  channel: number,
  classId: number,
  bodySize: number,
  propertyBytes: Uint8Array,
  body: Uint8Array,
  frameMax: number,
): Uint8Array {
  checkInteger(channel, 0, CHANNEL_MAX, 'channel');
  checkInteger(classId, 0, 0xffff, 'classId');
  checkInteger(frameMax, FRAME_MIN_SIZE, FRAME_MAX_LIMIT, 'frameMax');
  if (bodySize !== body.length) {
    throw new RangeError(`bodySize ${bodySize} is not the body's length ${body.length}`);
  }
  const headerPayloadBytes = CONTENT_HEADER_PREFIX_BYTES + propertyBytes.length;
  if (headerPayloadBytes + FRAME_OVERHEAD_BYTES > frameMax) {
    throw new RangeError(
      `a content header of ${headerPayloadBytes + FRAME_OVERHEAD_BYTES} bytes exceeds frame-max ${frameMax}`,
    );
  }
  const bodyPayloadBytesMax = frameMax - FRAME_OVERHEAD_BYTES;
  const bodyFrameCount = Math.ceil(body.length / bodyPayloadBytesMax);
  const total =
    headerPayloadBytes + FRAME_OVERHEAD_BYTES + body.length + bodyFrameCount * FRAME_OVERHEAD_BYTES;
  const frames = new Uint8Array(total);
  const view = new DataView(frames.buffer);
  view.setUint8(0, FRAME_HEADER);
  view.setUint16(CHANNEL_AT, channel);
  view.setUint32(SIZE_AT, headerPayloadBytes);
  view.setUint16(CLASS_ID_AT, classId);
  view.setUint16(WEIGHT_AT, 0);
  view.setUint32(BODY_SIZE_AT, Math.floor(bodySize / UINT32_LIMIT));
  view.setUint32(BODY_SIZE_AT + 4, bodySize % UINT32_LIMIT);
  frames.set(propertyBytes, PROPERTIES_AT);
  let position = FRAME_HEADER_BYTES + headerPayloadBytes;
  frames[position++] = FRAME_END;
  for (let offset = 0; offset < body.length; offset += bodyPayloadBytesMax) {
    const end = Math.min(body.length, offset + bodyPayloadBytesMax);
    view.setUint8(position, FRAME_BODY);
    view.setUint16(position + CHANNEL_AT, channel);
    view.setUint32(position + SIZE_AT, end - offset);
    frames.set(body.subarray(offset, end), position + FRAME_HEADER_BYTES);
    position += FRAME_HEADER_BYTES + end - offset;
    frames[position++] = FRAME_END;
  }
  assert(position === total, 'content frames fill their buffer exactly');
  return frames;
}
