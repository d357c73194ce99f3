export { assert, unreachable, AssertionError } from './assert.js';
export { crc32c } from './crc32c.js';
export {
  ERROR_CODES,
  WeirError,
  errorCodeFromNumber,
  isErrorCode,
  isWeirError,
  toWeirError,
  type ErrorCode,
} from './errors.js';
export { Lane } from './lane.js';
export { Utf8Cache } from './utf8-cache.js';
export {
  ManualClock,
  systemClock,
  toClock,
  type Clock,
  type Timer,
  type TimerOptions,
} from './clock.js';
export { setOwnProperty } from './own-property.js';
export { isLoopbackAddress } from './loopback-address.js';
export {
  createTlsListener,
  type ListenerTlsOptions,
  type TlsHandshakeFailure,
} from './tls-listener.js';
