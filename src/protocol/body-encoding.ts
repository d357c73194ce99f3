/**
 * How a publish's Body becomes bytes (api.ts `Body`): a Uint8Array is sent as is (no copy
 * here; the frame writer copies it once into the PUBLISH frame), a string as its UTF-8 bytes,
 * any other value as its JSON text.
 */
import type { Body } from './api.js';
import { WeirError } from '../util/index.js';

const encoder = new TextEncoder();

export function encodeBody(body: Body): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return encoder.encode(body);
  // JSON.stringify is typed to return a string, but gives undefined for some values.
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', 'the body cannot be written as JSON', { cause: error });
  }
  // From plain JavaScript: undefined, a function or a symbol has no JSON text.
  if (json === undefined) {
    throw new WeirError('INVALID_ARGUMENT', `a body of type ${typeof body} cannot be sent`);
  }
  return encoder.encode(json);
}
