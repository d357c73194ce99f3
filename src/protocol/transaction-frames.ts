/**
 * Payload layouts of the transaction frames (protocol 6; the types as in frames.ts):
 *
 * TX_COMMIT   u32 publishCount, publishCount × publish entry (as in PUBLISH),
 *             u32 ackCount, ackCount × (u32 consumerId, u32 partition, u64 offset,
 *             u32 deliveryToken)
 * TX_RESULT   u8 0, u32 count, count × PUBLISH_RESULT entry (each a receipt: u8 0, ...)
 *             | u8 1, u16 code number, string message
 *
 * An ack entry names a delivery of one of the connection's own consumers by its consumer id,
 * partition, offset and delivery token; the server refuses the commit (TRANSACTION_ABORTED,
 * MESSAGE_SETTLED) unless it is that consumer's current delivery. The commit is all or
 * nothing: no per-entry outcome.
 */
import { WeirError, errorCodeFromNumber, ERROR_CODES } from '../util/index.js';
import type { PublishReceipt } from './api.js';
import type { Reader, Writer } from './codec.js';
import { readReceiptOrError, writeReceiptOrError } from './frames.js';

export interface TransactionAckEntry {
  readonly consumerId: number;
  readonly partition: number;
  readonly offset: number;
  readonly token: number;
}

export function writeTransactionAck(writer: Writer, entry: TransactionAckEntry): void {
  writer.u32(entry.consumerId).u32(entry.partition).u64(entry.offset).u32(entry.token);
}

export function readTransactionAck(reader: Reader): TransactionAckEntry {
  return {
    consumerId: reader.u32(),
    partition: reader.u32(),
    offset: reader.u64(),
    token: reader.u32(),
  };
}

export function writeTransactionResult(
  writer: Writer,
  outcome: readonly PublishReceipt[] | WeirError,
): void {
  if (outcome instanceof WeirError) {
    writer.u8(1).u16(ERROR_CODES[outcome.code].number).string(outcome.message);
    return;
  }
  writer.u8(0).u32(outcome.length);
  for (const receipt of outcome) writeReceiptOrError(writer, receipt);
}

export function readTransactionResult(reader: Reader): PublishReceipt[] | WeirError {
  if (reader.u8() !== 0) return new WeirError(errorCodeFromNumber(reader.u16()), reader.text());
  const receipts: PublishReceipt[] = [];
  for (let count = reader.u32(), index = 0; index < count; index++) {
    const receipt = readReceiptOrError(reader);
    if (receipt instanceof WeirError)
      throw new WeirError('PROTOCOL_ERROR', 'TX_RESULT holds an error receipt');
    receipts.push(receipt);
  }
  return receipts;
}
