/**
 * An AMQP exception the gateway raises: a channel exception (the spec's soft errors: 311–313,
 * 403–406) closes the channel with channel.close; any other code is a connection exception
 * and closes the connection with connection.close. The reply text starts with the code's name
 * as RabbitMQ writes it ("NOT_FOUND - no queue 'q' in vhost '/'"): clients match on it.
 */
import { isWeirError, type WeirError } from '../util/index.js';

export const REPLY_NAMES: Readonly<Record<number, string>> = {
  311: 'CONTENT_TOO_LARGE',
  312: 'NO_ROUTE',
  313: 'NO_CONSUMERS',
  320: 'CONNECTION_FORCED',
  402: 'INVALID_PATH',
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  504: 'CHANNEL_ERROR',
  505: 'UNEXPECTED_FRAME',
  506: 'RESOURCE_ERROR',
  530: 'NOT_ALLOWED',
  540: 'NOT_IMPLEMENTED',
  541: 'INTERNAL_ERROR',
};

const CHANNEL_CODES: ReadonlySet<number> = new Set([311, 312, 313, 403, 404, 405, 406]);

/** Reply text is a shortstr: at most 255 bytes. */
const REPLY_TEXT_BYTES_MAX = 255;

export class AmqpError extends Error {
  override readonly name = 'AmqpError';
  readonly replyCode: number;
  /** The method that failed (0 when none). */
  classId = 0;
  methodId = 0;

  constructor(replyCode: number, detail: string, options?: { cause?: unknown }) {
    super(`${REPLY_NAMES[replyCode] ?? 'ERROR'} - ${detail}`, options);
    this.replyCode = replyCode;
  }

  /** Whether it closes only the channel (a soft error) rather than the connection. */
  get channelOnly(): boolean {
    return CHANNEL_CODES.has(this.replyCode);
  }

  /** The reply text, cut to a shortstr. */
  get replyText(): string {
    const text = this.message;
    if (Buffer.byteLength(text) <= REPLY_TEXT_BYTES_MAX) return text;
    let cut = text.slice(0, REPLY_TEXT_BYTES_MAX);
    while (Buffer.byteLength(cut) > REPLY_TEXT_BYTES_MAX) cut = cut.slice(0, -1);
    return cut;
  }

  /** Names the method it answers (the close frame carries it). */
  during(classId: number, methodId: number): this {
    if (this.classId === 0) {
      this.classId = classId;
      this.methodId = methodId;
    }
    return this;
  }
}

/** The AMQP exception for an error from the broker core. */
export function toAmqpError(error: unknown): AmqpError {
  if (error instanceof AmqpError) return error;
  if (isWeirError(error)) return fromWeirError(error);
  const text = error instanceof Error ? error.message : String(error);
  return new AmqpError(541, text, { cause: error });
}

function fromWeirError(error: WeirError): AmqpError {
  switch (error.code) {
    case 'NOT_AUTHORIZED':
      return new AmqpError(403, error.message, { cause: error });
    case 'STREAM_NOT_FOUND':
    case 'SUBSCRIPTION_NOT_FOUND':
      return new AmqpError(404, error.message, { cause: error });
    case 'CONSUMER_EXCLUSIVE':
      return new AmqpError(403, error.message, { cause: error });
    case 'INVALID_ARGUMENT':
    case 'MESSAGE_TOO_LARGE':
    case 'SCHEMA_MISMATCH':
    case 'SUBSCRIPTION_EXISTS':
    case 'STREAM_EXISTS':
      return new AmqpError(406, error.message, { cause: error });
    case 'STREAM_FULL':
    case 'LIMIT_EXCEEDED':
    case 'DISK_FULL':
      return new AmqpError(406, error.message, { cause: error });
    case 'CLOSED':
    case 'NOT_LEADER':
      return new AmqpError(320, error.message, { cause: error });
    default:
      return new AmqpError(541, `${error.code}: ${error.message}`, { cause: error });
  }
}
