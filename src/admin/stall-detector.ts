/**
 * The stall detector: a subscription with a backlog that made no progress for a while is
 * stalled, and the console says why. Pure functions over what the stats sampler sees, so the
 * rules are tested without a broker.
 *
 * Progress: the acked counter moved, the ack floors moved, or (ack 'none') deliveries moved.
 * The reason is the first rule that holds, from what the sampler saw since the last progress:
 *
 *   no-consumers       nobody is attached
 *   consumer-erroring  messages were redelivered or dead-lettered but none was acked
 *   messages-delayed   every waiting message waits for a retry backoff or a deliverAt
 *   all-leased         every available message is leased to a consumer that does not settle it
 *   credit-exhausted   more messages are ready, but the consumers hold all they may (credit,
 *                      maxInFlight or maxInFlightTotal) and do not settle
 *   consumers-idle     messages are ready, consumers are attached and have room, yet nothing
 *                      is delivered (a consumer that does not read)
 */

export type StallReason =
  | 'no-consumers'
  | 'consumer-erroring'
  | 'messages-delayed'
  | 'all-leased'
  | 'credit-exhausted'
  | 'consumers-idle';

export const STALL_REASONS: readonly StallReason[] = [
  'no-consumers',
  'consumer-erroring',
  'messages-delayed',
  'all-leased',
  'credit-exhausted',
  'consumers-idle',
];

/** What the sampler knows about one subscription now and since its last progress. */
export interface StallInput {
  readonly consumers: number;
  readonly pending: number;
  readonly inFlight: number;
  readonly delayed: number;
  readonly maxInFlightTotal: number | null;
  readonly leaseMs: number;
  /** Redeliveries and dead letters since the last progress. */
  readonly redeliveredSince: number;
  readonly deadLetteredSince: number;
  /** Credit left over all network consumers of the subscription; null when unknown. */
  readonly creditLeft: number | null;
}

export interface Stall {
  readonly reason: StallReason;
  /** One sentence for an operator. */
  readonly message: string;
  /** When the subscription last made progress (ms since the epoch). */
  readonly sinceMs: number;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Why a subscription that has a backlog and made no progress is stuck. */
export function classifyStall(input: StallInput): { reason: StallReason; message: string } {
  const waiting = plural(input.pending, 'message');
  const ready = Math.max(0, input.pending - input.inFlight - input.delayed);
  if (input.consumers === 0) {
    return { reason: 'no-consumers', message: `no consumer is attached; ${waiting} waiting` };
  }
  if (input.redeliveredSince > 0 || input.deadLetteredSince > 0) {
    return {
      reason: 'consumer-erroring',
      message:
        `messages come back without being acked (${plural(input.redeliveredSince, 'redelivery')}, ` +
        `${input.deadLetteredSince} dead-lettered): the consumers nack them, let leases expire or crash`,
    };
  }
  if (ready === 0 && input.inFlight === 0 && input.delayed > 0) {
    return {
      reason: 'messages-delayed',
      message: `all ${waiting} wait for a retry backoff or their deliverAt time`,
    };
  }
  if (ready === 0 && input.inFlight > 0) {
    return {
      reason: 'all-leased',
      message:
        `every available message is leased (${input.inFlight} in flight) and none is settled: ` +
        `the consumers are slow or hung; leases expire after ${input.leaseMs} ms`,
    };
  }
  const totalFull = input.maxInFlightTotal !== null && input.inFlight >= input.maxInFlightTotal;
  if (input.creditLeft === 0 || totalFull || input.inFlight > 0) {
    const limit = totalFull
      ? `maxInFlightTotal ${input.maxInFlightTotal}`
      : input.creditLeft === 0
        ? 'their credit'
        : 'their maxInFlight';
    return {
      reason: 'credit-exhausted',
      message:
        `the consumers hold ${input.inFlight} unsettled messages, all that ${limit} allows; ` +
        `${ready} more are ready but wait until they settle`,
    };
  }
  return {
    reason: 'consumers-idle',
    message: `${plural(input.consumers, 'consumer')} attached, ${ready} messages ready, none delivered: the consumers do not read`,
  };
}
