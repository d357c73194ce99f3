/**
 * Every AMQP 0-9-1 method RabbitMQ implements (all classes but `access`), as data: its ids,
 * whether content (a header frame and body frames) follows it, and its arguments in wire order.
 * Field names are the spec's, camelCased (as amqplib names them); the spec's reserved fields
 * keep the names RabbitMQ's spec file gives them (`ticket`, `outOfBand`, `channelId`,
 * `capabilities`, `insist`, `knownHosts`, `clusterId`).
 *
 * Argument kinds and their JavaScript types:
 *   octet u8, short u16, long u32, longlong u64 (a number; above 2^53 - 1 is a decode error),
 *   timestamp u64 seconds (a number): number
 *   shortstr (≤ 255 bytes of UTF-8), longstr (u32 length): string
 *   bytes (a longstr kept as bytes: `response`, `challenge`, `newSecret`): Uint8Array
 *   bit: boolean; consecutive bits share octets, the first in the lowest bit, 8 to an octet
 *   table: FieldTable (see field-table.ts)
 */
import type { FieldTable } from './field-table.js';
import type { MethodArguments, MethodName } from './method-arguments.js';

export type ArgumentKind =
  | 'octet'
  | 'short'
  | 'long'
  | 'longlong'
  | 'timestamp'
  | 'shortstr'
  | 'longstr'
  | 'bytes'
  | 'bit'
  | 'table';

/** The kinds a field of JavaScript type T may have on the wire; the table below is checked against it. */
type KindOf<T> = T extends boolean
  ? 'bit'
  : T extends number
    ? 'octet' | 'short' | 'long' | 'longlong' | 'timestamp'
    : T extends string
      ? 'shortstr' | 'longstr'
      : T extends Uint8Array
        ? 'bytes'
        : T extends FieldTable
          ? 'table'
          : never;

type FieldSpecOf<A> = { [K in keyof A & string]: readonly [name: K, kind: KindOf<A[K]>] }[keyof A &
  string];

export interface MethodSpec<N extends MethodName = MethodName> {
  readonly classId: number;
  readonly methodId: number;
  /** Content (a header frame, then body frames) follows this method. */
  readonly content: boolean;
  readonly fields: readonly FieldSpecOf<MethodArguments[N]>[];
}

export const METHOD_SPECS: { readonly [N in MethodName]: MethodSpec<N> } = {
  'connection.start': {
    classId: 10,
    methodId: 10,
    content: false,
    fields: [
      ['versionMajor', 'octet'],
      ['versionMinor', 'octet'],
      ['serverProperties', 'table'],
      ['mechanisms', 'longstr'],
      ['locales', 'longstr'],
    ],
  },
  'connection.start-ok': {
    classId: 10,
    methodId: 11,
    content: false,
    fields: [
      ['clientProperties', 'table'],
      ['mechanism', 'shortstr'],
      ['response', 'bytes'],
      ['locale', 'shortstr'],
    ],
  },
  'connection.secure': {
    classId: 10,
    methodId: 20,
    content: false,
    fields: [['challenge', 'bytes']],
  },
  'connection.secure-ok': {
    classId: 10,
    methodId: 21,
    content: false,
    fields: [['response', 'bytes']],
  },
  'connection.tune': {
    classId: 10,
    methodId: 30,
    content: false,
    fields: [
      ['channelMax', 'short'],
      ['frameMax', 'long'],
      ['heartbeat', 'short'],
    ],
  },
  'connection.tune-ok': {
    classId: 10,
    methodId: 31,
    content: false,
    fields: [
      ['channelMax', 'short'],
      ['frameMax', 'long'],
      ['heartbeat', 'short'],
    ],
  },
  'connection.open': {
    classId: 10,
    methodId: 40,
    content: false,
    fields: [
      ['virtualHost', 'shortstr'],
      ['capabilities', 'shortstr'],
      ['insist', 'bit'],
    ],
  },
  'connection.open-ok': {
    classId: 10,
    methodId: 41,
    content: false,
    fields: [['knownHosts', 'shortstr']],
  },
  'connection.close': {
    classId: 10,
    methodId: 50,
    content: false,
    fields: [
      ['replyCode', 'short'],
      ['replyText', 'shortstr'],
      ['classId', 'short'],
      ['methodId', 'short'],
    ],
  },
  'connection.close-ok': { classId: 10, methodId: 51, content: false, fields: [] },
  'connection.blocked': {
    classId: 10,
    methodId: 60,
    content: false,
    fields: [['reason', 'shortstr']],
  },
  'connection.unblocked': { classId: 10, methodId: 61, content: false, fields: [] },
  'connection.update-secret': {
    classId: 10,
    methodId: 70,
    content: false,
    fields: [
      ['newSecret', 'bytes'],
      ['reason', 'shortstr'],
    ],
  },
  'connection.update-secret-ok': { classId: 10, methodId: 71, content: false, fields: [] },
  'channel.open': {
    classId: 20,
    methodId: 10,
    content: false,
    fields: [['outOfBand', 'shortstr']],
  },
  'channel.open-ok': {
    classId: 20,
    methodId: 11,
    content: false,
    fields: [['channelId', 'longstr']],
  },
  'channel.flow': { classId: 20, methodId: 20, content: false, fields: [['active', 'bit']] },
  'channel.flow-ok': { classId: 20, methodId: 21, content: false, fields: [['active', 'bit']] },
  'channel.close': {
    classId: 20,
    methodId: 40,
    content: false,
    fields: [
      ['replyCode', 'short'],
      ['replyText', 'shortstr'],
      ['classId', 'short'],
      ['methodId', 'short'],
    ],
  },
  'channel.close-ok': { classId: 20, methodId: 41, content: false, fields: [] },
  'exchange.declare': {
    classId: 40,
    methodId: 10,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['exchange', 'shortstr'],
      ['type', 'shortstr'],
      ['passive', 'bit'],
      ['durable', 'bit'],
      ['autoDelete', 'bit'],
      ['internal', 'bit'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'exchange.declare-ok': { classId: 40, methodId: 11, content: false, fields: [] },
  'exchange.delete': {
    classId: 40,
    methodId: 20,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['exchange', 'shortstr'],
      ['ifUnused', 'bit'],
      ['nowait', 'bit'],
    ],
  },
  'exchange.delete-ok': { classId: 40, methodId: 21, content: false, fields: [] },
  'exchange.bind': {
    classId: 40,
    methodId: 30,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['destination', 'shortstr'],
      ['source', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'exchange.bind-ok': { classId: 40, methodId: 31, content: false, fields: [] },
  'exchange.unbind': {
    classId: 40,
    methodId: 40,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['destination', 'shortstr'],
      ['source', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'exchange.unbind-ok': { classId: 40, methodId: 51, content: false, fields: [] },
  'queue.declare': {
    classId: 50,
    methodId: 10,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['passive', 'bit'],
      ['durable', 'bit'],
      ['exclusive', 'bit'],
      ['autoDelete', 'bit'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'queue.declare-ok': {
    classId: 50,
    methodId: 11,
    content: false,
    fields: [
      ['queue', 'shortstr'],
      ['messageCount', 'long'],
      ['consumerCount', 'long'],
    ],
  },
  'queue.bind': {
    classId: 50,
    methodId: 20,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'queue.bind-ok': { classId: 50, methodId: 21, content: false, fields: [] },
  'queue.purge': {
    classId: 50,
    methodId: 30,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['nowait', 'bit'],
    ],
  },
  'queue.purge-ok': {
    classId: 50,
    methodId: 31,
    content: false,
    fields: [['messageCount', 'long']],
  },
  'queue.delete': {
    classId: 50,
    methodId: 40,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['ifUnused', 'bit'],
      ['ifEmpty', 'bit'],
      ['nowait', 'bit'],
    ],
  },
  'queue.delete-ok': {
    classId: 50,
    methodId: 41,
    content: false,
    fields: [['messageCount', 'long']],
  },
  'queue.unbind': {
    classId: 50,
    methodId: 50,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['arguments', 'table'],
    ],
  },
  'queue.unbind-ok': { classId: 50, methodId: 51, content: false, fields: [] },
  'basic.qos': {
    classId: 60,
    methodId: 10,
    content: false,
    fields: [
      ['prefetchSize', 'long'],
      ['prefetchCount', 'short'],
      ['global', 'bit'],
    ],
  },
  'basic.qos-ok': { classId: 60, methodId: 11, content: false, fields: [] },
  'basic.consume': {
    classId: 60,
    methodId: 20,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['consumerTag', 'shortstr'],
      ['noLocal', 'bit'],
      ['noAck', 'bit'],
      ['exclusive', 'bit'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'basic.consume-ok': {
    classId: 60,
    methodId: 21,
    content: false,
    fields: [['consumerTag', 'shortstr']],
  },
  'basic.cancel': {
    classId: 60,
    methodId: 30,
    content: false,
    fields: [
      ['consumerTag', 'shortstr'],
      ['nowait', 'bit'],
    ],
  },
  'basic.cancel-ok': {
    classId: 60,
    methodId: 31,
    content: false,
    fields: [['consumerTag', 'shortstr']],
  },
  'basic.publish': {
    classId: 60,
    methodId: 40,
    content: true,
    fields: [
      ['ticket', 'short'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['mandatory', 'bit'],
      ['immediate', 'bit'],
    ],
  },
  'basic.return': {
    classId: 60,
    methodId: 50,
    content: true,
    fields: [
      ['replyCode', 'short'],
      ['replyText', 'shortstr'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
    ],
  },
  'basic.deliver': {
    classId: 60,
    methodId: 60,
    content: true,
    fields: [
      ['consumerTag', 'shortstr'],
      ['deliveryTag', 'longlong'],
      ['redelivered', 'bit'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
    ],
  },
  'basic.get': {
    classId: 60,
    methodId: 70,
    content: false,
    fields: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['noAck', 'bit'],
    ],
  },
  'basic.get-ok': {
    classId: 60,
    methodId: 71,
    content: true,
    fields: [
      ['deliveryTag', 'longlong'],
      ['redelivered', 'bit'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['messageCount', 'long'],
    ],
  },
  'basic.get-empty': {
    classId: 60,
    methodId: 72,
    content: false,
    fields: [['clusterId', 'shortstr']],
  },
  'basic.ack': {
    classId: 60,
    methodId: 80,
    content: false,
    fields: [
      ['deliveryTag', 'longlong'],
      ['multiple', 'bit'],
    ],
  },
  'basic.reject': {
    classId: 60,
    methodId: 90,
    content: false,
    fields: [
      ['deliveryTag', 'longlong'],
      ['requeue', 'bit'],
    ],
  },
  'basic.recover-async': {
    classId: 60,
    methodId: 100,
    content: false,
    fields: [['requeue', 'bit']],
  },
  'basic.recover': { classId: 60, methodId: 110, content: false, fields: [['requeue', 'bit']] },
  'basic.recover-ok': { classId: 60, methodId: 111, content: false, fields: [] },
  'basic.nack': {
    classId: 60,
    methodId: 120,
    content: false,
    fields: [
      ['deliveryTag', 'longlong'],
      ['multiple', 'bit'],
      ['requeue', 'bit'],
    ],
  },
  'confirm.select': { classId: 85, methodId: 10, content: false, fields: [['nowait', 'bit']] },
  'confirm.select-ok': { classId: 85, methodId: 11, content: false, fields: [] },
  'tx.select': { classId: 90, methodId: 10, content: false, fields: [] },
  'tx.select-ok': { classId: 90, methodId: 11, content: false, fields: [] },
  'tx.commit': { classId: 90, methodId: 20, content: false, fields: [] },
  'tx.commit-ok': { classId: 90, methodId: 21, content: false, fields: [] },
  'tx.rollback': { classId: 90, methodId: 30, content: false, fields: [] },
  'tx.rollback-ok': { classId: 90, methodId: 31, content: false, fields: [] },
};

export const METHOD_NAMES = Object.keys(METHOD_SPECS) as readonly MethodName[];

/** A method's key in METHOD_BY_ID. */
export function methodKey(classId: number, methodId: number): number {
  return classId * 0x1_0000 + methodId;
}

export interface MethodEntry {
  readonly name: MethodName;
  readonly classId: number;
  readonly methodId: number;
  readonly content: boolean;
  readonly fields: readonly (readonly [name: string, kind: ArgumentKind])[];
}

export const METHOD_BY_ID: ReadonlyMap<number, MethodEntry> = new Map(
  METHOD_NAMES.map((name) => {
    const spec: Omit<MethodEntry, 'name'> = METHOD_SPECS[name];
    return [methodKey(spec.classId, spec.methodId), { name, ...spec }];
  }),
);

/** Whether content (a header frame and body frames) follows this method: basic.publish, return, deliver and get-ok. */
export function methodHasContent(name: MethodName): boolean {
  return METHOD_SPECS[name].content;
}
