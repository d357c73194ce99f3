/** The protocol layer's public face: the transport-neutral client API and the error registry. */
export * from './api.js';
export {
  ERROR_CODES,
  WeirError,
  errorCodeFromNumber,
  isErrorCode,
  isWeirError,
  type ErrorCode,
} from '../util/index.js';
export { openQueue, QUEUE_SUBSCRIPTION_OPTION_NAMES } from './queue.js';
export {
  CircuitBreaker,
  checkCircuitBreaker,
  type CircuitBreakerSettings,
} from './circuit-breaker.js';
export { parseProgressValue, progressOf, progressValueText } from './progress-value.js';
export {
  runTransaction,
  transactionTimeoutMs,
  TransactionBuffer,
  type PreparedPublish,
  type TransactionTransport,
} from './transaction-buffer.js';
