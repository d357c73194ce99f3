/** The `weir` package's public face. */
export { WeirError, isWeirError, ERROR_CODES, type ErrorCode } from './util/index.js';
export { ManualClock, systemClock, type Clock, type Timer } from './util/index.js';
export { Broker, type BrokerOptions } from './broker/index.js';
export { connect, type ConnectOptions } from './client/index.js';
export { DEAD_LETTER_HEADERS, REQUEST_HEADERS } from './protocol/index.js';
export type {
  AckPolicy,
  Backoff,
  Body,
  Client,
  DeadLetter,
  DeadLetterListOptions,
  DeadLetterReason,
  DeadLettersApi,
  FailureInfo,
  FsyncPolicy,
  Headers,
  JsonValue,
  LostRange,
  Message,
  NackOptions,
  OverflowPolicy,
  PartitionInfo,
  PublishOptions,
  PublishReceipt,
  ReceiveOptions,
  RedriveOptions,
  RequestOptions,
  RespondOptions,
  RetentionPolicy,
  StartPosition,
  StorageKind,
  StreamConfig,
  StreamInfo,
  StreamOptions,
  StreamsApi,
  SubscribeOptions,
  Subscription,
  SubscriptionConfig,
  SubscriptionInfo,
  SubscriptionMode,
  SubscriptionsApi,
} from './protocol/index.js';
