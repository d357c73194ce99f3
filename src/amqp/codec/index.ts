/**
 * Weir's AMQP 0-9-1 codec: pure functions and one incremental decoder, no I/O. The gateway
 * (src/amqp) imports only this file. This folder imports only src/util (a lint rule).
 */
export {
  AMQP_PROTOCOL_HEADER,
  CONTENT_HEADER_PREFIX_BYTES,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEADER_BYTES,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_OVERHEAD_BYTES,
  HEARTBEAT_FRAME,
  REPLY_CODES,
  type ReplyCode,
} from './constants.js';
export {
  FIELD_TABLE_DEPTH_MAX,
  FRAME_MAX_LIMIT,
  FRAME_MIN_SIZE,
  SHORTSTR_BYTES_MAX,
} from './limits.js';
export { AmqpFrameError, isAmqpFrameError } from './errors.js';
export { checkProtocolHeader } from './protocol-header.js';
export {
  decodeFieldTable,
  encodeFieldTable,
  type Decimal,
  type FieldTable,
  type FieldValue,
} from './field-table.js';
export type { AmqpMethod, MethodArguments, MethodName, NoArguments } from './method-arguments.js';
export {
  METHOD_NAMES,
  METHOD_SPECS,
  methodHasContent,
  type ArgumentKind,
  type MethodSpec,
} from './method-spec.js';
export { decodeMethod, encodeMethodFrame } from './method-codec.js';
export {
  BASIC_CLASS_ID,
  decodeProperties,
  encodeProperties,
  type BasicProperties,
} from './properties.js';
export { encodeContentFrames } from './content-frames.js';
export { FrameDecoder, type Frame, type FrameDecoderOptions } from './frame-decoder.js';
