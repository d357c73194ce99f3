/** The `weir` package's public face. */
export { WeirError, isWeirError, ERROR_CODES, type ErrorCode } from './util/index.js';
