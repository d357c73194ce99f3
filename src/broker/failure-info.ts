/** The JSON form of a recorded failure in stream and subscription info (and so in the HTTP API). */
import type { FailureInfo } from '../protocol/index.js';
import type { WeirError } from '../util/index.js';

export function failureInfo(error: WeirError): FailureInfo {
  return { code: error.code, message: error.message };
}

export function failureInfoOrNull(error: WeirError | null): FailureInfo | null {
  return error === null ? null : failureInfo(error);
}
