/**
 * The 8 bytes a client sends before any frame: 'AMQP' 0 0 9 1. Only bytes [0, 8) are looked at;
 * the caller feeds what follows them to a FrameDecoder.
 */
import { AMQP_PROTOCOL_HEADER } from './constants.js';

/**
 * 'ok': the header is AMQP 0-9-1. 'incomplete': fewer than 8 bytes so far, all matching.
 * 'wrong': anything else; the server writes AMQP_PROTOCOL_HEADER and closes (spec 4.2.2).
 */
export function checkProtocolHeader(bytes: Uint8Array): 'ok' | 'incomplete' | 'wrong' {
  const length = Math.min(bytes.length, AMQP_PROTOCOL_HEADER.length);
  for (let index = 0; index < length; index++) {
    if (bytes[index] !== AMQP_PROTOCOL_HEADER[index]) return 'wrong';
  }
  return length === AMQP_PROTOCOL_HEADER.length ? 'ok' : 'incomplete';
}
