/**
 * AMQP 0-9-1 wire constants: the protocol header, the frame types, the frame end octet and the
 * reply codes, as the spec (and RabbitMQ's errata) define them.
 *
 * A frame on the wire:
 *
 *   0      1         3             7                  7+size     8+size
 *   +------+---------+-------------+-------------------+----------+
 *   | type | channel | size (u32)  | payload (size)    | 0xCE     |
 *   +------+---------+-------------+-------------------+----------+
 *
 * All integers are big-endian. `frame-max` (negotiated by connection.tune/tune-ok) bounds the
 * whole frame, 8 + size bytes.
 */

/** What a client sends first: 'AMQP' 0 0 9 1. A server that speaks another version answers with this and closes. */
export const AMQP_PROTOCOL_HEADER: Uint8Array = Uint8Array.of(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1);

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;

/** Bytes of a frame's header: type (1), channel (2), size (4). */
export const FRAME_HEADER_BYTES = 7;
/** Bytes a frame adds around its payload: the header and the frame-end octet. */
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + 1;

/** A content header's payload before its property flags: class-id (2), weight (2), body-size (8). */
export const CONTENT_HEADER_PREFIX_BYTES = 12;

/** A heartbeat frame, ready to write: type 8, channel 0, size 0, frame-end. */
export const HEARTBEAT_FRAME: Uint8Array = Uint8Array.of(
  FRAME_HEARTBEAT,
  0,
  0,
  0,
  0,
  0,
  0,
  FRAME_END,
);

/** Reply codes of connection.close and channel.close (the spec's constants). */
export const REPLY_CODES = {
  success: 200,
  contentTooLarge: 311,
  noRoute: 312,
  noConsumers: 313,
  connectionForced: 320,
  invalidPath: 402,
  accessRefused: 403,
  notFound: 404,
  resourceLocked: 405,
  preconditionFailed: 406,
  frameError: 501,
  syntaxError: 502,
  commandInvalid: 503,
  channelError: 504,
  unexpectedFrame: 505,
  resourceError: 506,
  notAllowed: 530,
  notImplemented: 540,
  internalError: 541,
} as const;

export type ReplyCode = (typeof REPLY_CODES)[keyof typeof REPLY_CODES];
