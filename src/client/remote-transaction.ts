/**
 * `client.transaction(fn)` over the network: the SDK buffers the publishes and acks fn makes
 * (protocol/transaction-buffer.ts), then sends them in one TX_COMMIT and waits for TX_RESULT.
 * The broker commits them as it commits an embedded transaction.
 *
 * An ack names its delivery by the consumer id it came on, which is only good on the
 * connection that delivered it: a message of another client (or of a connection since lost)
 * refuses the commit here with TRANSACTION_ABORTED (MESSAGE_SETTLED), nothing sent.
 */
import { CLIENT_CALL_WAIT_MS_MAX } from '../limits.js';
import { Reader } from '../protocol/codec.js';
import { OPCODES } from '../protocol/frame.js';
import { writePublishEntry } from '../protocol/frames.js';
import {
  WeirError,
  type PublishOptions,
  type PublishReceipt,
  type TransactionTransport,
} from '../protocol/index.js';
import { readTransactionResult, writeTransactionAck } from '../protocol/transaction-frames.js';
import { encodeBody } from '../protocol/body-encoding.js';
import { checkName, checkPublishOptions } from './argument-checks.js';
import type { Connection } from './connection.js';
import { ConsumerAttachment } from './consumer-attachment.js';
import type { ControlOperation } from './control-queue.js';
import { RemoteMessage } from './remote-message.js';

export interface RemotePublish {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly options: PublishOptions;
}

export interface TransactionChannel {
  /** Queues a control operation (it waits for a connection and a request slot). */
  enqueue(operation: ControlOperation): void;
  /** Why an operation gave up waiting. */
  waitError(what: string): WeirError;
}

export function remoteTransactionTransport(
  channel: TransactionChannel,
): TransactionTransport<RemotePublish, RemoteMessage> {
  return {
    preparePublish(subject, body, options) {
      checkName(subject, 'subject');
      const checked = checkPublishOptions(options);
      const bytes = encodeBody(body);
      let size = bytes.length + (checked.key?.length ?? 0);
      for (const [name, value] of Object.entries(checked.headers ?? {})) {
        size += name.length + value.length;
      }
      return { entry: { subject, body: bytes, options: checked }, bytes: size };
    },
    prepareAck(message) {
      if (!(message instanceof RemoteMessage) || message.settler === null) {
        throw new WeirError(
          'INVALID_ARGUMENT',
          'tx.ack takes a message this client received from a subscription',
        );
      }
      return message;
    },
    commit(publishes, acks) {
      return new Promise<PublishReceipt[]>((resolve, reject) => {
        channel.enqueue({
          opcode: OPCODES.TX_COMMIT,
          waitMs: CLIENT_CALL_WAIT_MS_MAX,
          expired: () => channel.waitError('the transaction'),
          write: (writer, connection) => {
            const refusal = foreignAck(acks, connection);
            if (refusal !== null) {
              reject(refusal);
              return false;
            }
            writer.u32(publishes.length);
            for (const publish of publishes) {
              writePublishEntry(writer, publish.subject, publish.body, publish.options);
            }
            writer.u32(acks.length);
            for (const message of acks) {
              writeTransactionAck(writer, {
                consumerId: (message.settler as ConsumerAttachment).consumerId,
                partition: message.partition,
                offset: message.offset,
                token: message.deliveryToken,
              });
            }
            return true;
          },
          handler: {
            expects: OPCODES.TX_RESULT,
            reply: (payload) => {
              const reader = new Reader(payload);
              const outcome = readTransactionResult(reader);
              reader.done();
              if (outcome instanceof WeirError) {
                reject(outcome);
                return;
              }
              for (const message of acks) message.settledByTransaction();
              resolve(outcome);
            },
            fail: reject,
          },
        });
      });
    },
  };
}

/** TRANSACTION_ABORTED for the first ack whose delivery this connection cannot name. */
function foreignAck(acks: readonly RemoteMessage[], connection: Connection): WeirError | null {
  for (let index = 0; index < acks.length; index++) {
    const message = acks[index]!;
    const attachment = message.settler;
    let why: string | null = null;
    if (!(attachment instanceof ConsumerAttachment) || attachment.connection !== connection) {
      why = 'it came on another connection or client';
    } else if (!attachment.live) {
      why = 'the consumer it came on is closed; the broker delivers it again';
    } else if (!message.settleable) {
      why = 'it was settled already';
    }
    if (why !== null) {
      return new WeirError(
        'TRANSACTION_ABORTED',
        `transaction aborted, nothing of it took effect: ack ${index} (${message.stream} ${message.partition}/${message.offset}): MESSAGE_SETTLED ${why}`,
      );
    }
  }
  return null;
}
