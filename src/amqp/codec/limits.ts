/**
 * The AMQP codec's limits, named. The codec may import only src/util (a lint rule), so these
 * live beside it rather than in src/limits.ts; relations between them are asserted on load.
 */
import { assert } from '../../util/index.js';

/** The spec's frame-min-size: every peer accepts frames of this many bytes, before and after tune. */
export const FRAME_MIN_SIZE = 4096;

/**
 * The largest frame-max a FrameDecoder or encodeContentFrames accepts: the frame's size field is
 * a u32, and a decoder buffers one whole frame, so the gateway's negotiated frame-max should be
 * far below this.
 */
export const FRAME_MAX_LIMIT = 0xffff_ffff;

/** A shortstr is a length octet and at most this many bytes. */
export const SHORTSTR_BYTES_MAX = 255;

/** Field tables and arrays nest at most this deep (a table inside a table is depth 2). */
export const FIELD_TABLE_DEPTH_MAX = 16;

/** Reply texts are shortstrs; an AmqpFrameError's replyText is cut to fit. */
export const REPLY_TEXT_BYTES_MAX = SHORTSTR_BYTES_MAX;

/** The encoder's scratch buffer starts this large and is dropped back to it after a large frame. */
export const ENCODE_SCRATCH_BYTES_DEFAULT = 64 * 1024;

assert(FRAME_MIN_SIZE <= FRAME_MAX_LIMIT, 'FRAME_MIN_SIZE must not exceed FRAME_MAX_LIMIT');
assert(FIELD_TABLE_DEPTH_MAX >= 1, 'FIELD_TABLE_DEPTH_MAX must allow one table');
assert(ENCODE_SCRATCH_BYTES_DEFAULT >= FRAME_MIN_SIZE, 'the scratch buffer holds a minimal frame');
