/**
 * The one error the codec's decoders throw: a connection-level protocol fault. The gateway
 * answers connection.close with `replyCode` and `replyText` (and `classId`/`methodId` of the
 * method at fault, 0 when none), then closes the socket. A decoder that threw keeps throwing.
 *
 * Encoders never throw this: a value they cannot encode is the caller's fault (RangeError).
 */
import { REPLY_TEXT_BYTES_MAX } from './limits.js';
import { REPLY_CODES, type ReplyCode } from './constants.js';

/** Where in the stream the fault was found; 0 for what is not known. */
export interface FaultPlace {
  readonly channel?: number;
  readonly classId?: number;
  readonly methodId?: number;
}

const REPLY_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(REPLY_CODES).map(([name, code]) => [
    code,
    name.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase(),
  ]),
);

const encoder = new TextEncoder();

export class AmqpFrameError extends Error {
  override readonly name = 'AmqpFrameError';
  readonly replyCode: ReplyCode;
  /** The reply-text for connection.close: the code's name and the message, at most 255 bytes. */
  readonly replyText: string;
  readonly channel: number;
  readonly classId: number;
  readonly methodId: number;

  constructor(replyCode: ReplyCode, message: string, place: FaultPlace = {}) {
    super(message);
    this.replyCode = replyCode;
    this.replyText = fitReplyText(`${REPLY_NAMES.get(replyCode) ?? 'ERROR'} - ${message}`);
    this.channel = place.channel ?? 0;
    this.classId = place.classId ?? 0;
    this.methodId = place.methodId ?? 0;
  }
}

export function isAmqpFrameError(error: unknown): error is AmqpFrameError {
  return error instanceof AmqpFrameError;
}

function fitReplyText(text: string): string {
  if (encoder.encode(text).length <= REPLY_TEXT_BYTES_MAX) return text;
  let cut = text.slice(0, REPLY_TEXT_BYTES_MAX);
  while (encoder.encode(cut).length > REPLY_TEXT_BYTES_MAX) cut = cut.slice(0, -1);
  return cut;
}
