/**
 * The arguments of every AMQP 0-9-1 method the codec knows, by name ('class.method', the spec's
 * names), and the decoded method type the gateway switches on. Wire kinds are in method-spec.ts.
 */
import type { FieldTable } from './field-table.js';

/** A method without arguments takes `{}`. */
export type NoArguments = Record<string, never>;

export interface MethodArguments {
  'connection.start': {
    versionMajor: number;
    versionMinor: number;
    serverProperties: FieldTable;
    mechanisms: string;
    locales: string;
  };
  'connection.start-ok': {
    clientProperties: FieldTable;
    mechanism: string;
    response: Uint8Array;
    locale: string;
  };
  'connection.secure': { challenge: Uint8Array };
  'connection.secure-ok': { response: Uint8Array };
  'connection.tune': { channelMax: number; frameMax: number; heartbeat: number };
  'connection.tune-ok': { channelMax: number; frameMax: number; heartbeat: number };
  'connection.open': { virtualHost: string; capabilities: string; insist: boolean };
  'connection.open-ok': { knownHosts: string };
  'connection.close': { replyCode: number; replyText: string; classId: number; methodId: number };
  'connection.close-ok': NoArguments;
  'connection.blocked': { reason: string };
  'connection.unblocked': NoArguments;
  'connection.update-secret': { newSecret: Uint8Array; reason: string };
  'connection.update-secret-ok': NoArguments;
  'channel.open': { outOfBand: string };
  'channel.open-ok': { channelId: string };
  'channel.flow': { active: boolean };
  'channel.flow-ok': { active: boolean };
  'channel.close': { replyCode: number; replyText: string; classId: number; methodId: number };
  'channel.close-ok': NoArguments;
  'exchange.declare': {
    ticket: number;
    exchange: string;
    type: string;
    passive: boolean;
    durable: boolean;
    autoDelete: boolean;
    internal: boolean;
    nowait: boolean;
    arguments: FieldTable;
  };
  'exchange.declare-ok': NoArguments;
  'exchange.delete': { ticket: number; exchange: string; ifUnused: boolean; nowait: boolean };
  'exchange.delete-ok': NoArguments;
  'exchange.bind': {
    ticket: number;
    destination: string;
    source: string;
    routingKey: string;
    nowait: boolean;
    arguments: FieldTable;
  };
  'exchange.bind-ok': NoArguments;
  'exchange.unbind': {
    ticket: number;
    destination: string;
    source: string;
    routingKey: string;
    nowait: boolean;
    arguments: FieldTable;
  };
  'exchange.unbind-ok': NoArguments;
  'queue.declare': {
    ticket: number;
    queue: string;
    passive: boolean;
    durable: boolean;
    exclusive: boolean;
    autoDelete: boolean;
    nowait: boolean;
    arguments: FieldTable;
  };
  'queue.declare-ok': { queue: string; messageCount: number; consumerCount: number };
  'queue.bind': {
    ticket: number;
    queue: string;
    exchange: string;
    routingKey: string;
    nowait: boolean;
    arguments: FieldTable;
  };
  'queue.bind-ok': NoArguments;
  'queue.purge': { ticket: number; queue: string; nowait: boolean };
  'queue.purge-ok': { messageCount: number };
  'queue.delete': {
    ticket: number;
    queue: string;
    ifUnused: boolean;
    ifEmpty: boolean;
    nowait: boolean;
  };
  'queue.delete-ok': { messageCount: number };
  'queue.unbind': {
    ticket: number;
    queue: string;
    exchange: string;
    routingKey: string;
    arguments: FieldTable;
  };
  'queue.unbind-ok': NoArguments;
  'basic.qos': { prefetchSize: number; prefetchCount: number; global: boolean };
  'basic.qos-ok': NoArguments;
  'basic.consume': {
    ticket: number;
    queue: string;
    consumerTag: string;
    noLocal: boolean;
    noAck: boolean;
    exclusive: boolean;
    nowait: boolean;
    arguments: FieldTable;
  };
  'basic.consume-ok': { consumerTag: string };
  'basic.cancel': { consumerTag: string; nowait: boolean };
  'basic.cancel-ok': { consumerTag: string };
  'basic.publish': {
    ticket: number;
    exchange: string;
    routingKey: string;
    mandatory: boolean;
    immediate: boolean;
  };
  'basic.return': { replyCode: number; replyText: string; exchange: string; routingKey: string };
  'basic.deliver': {
    consumerTag: string;
    deliveryTag: number;
    redelivered: boolean;
    exchange: string;
    routingKey: string;
  };
  'basic.get': { ticket: number; queue: string; noAck: boolean };
  'basic.get-ok': {
    deliveryTag: number;
    redelivered: boolean;
    exchange: string;
    routingKey: string;
    messageCount: number;
  };
  'basic.get-empty': { clusterId: string };
  'basic.ack': { deliveryTag: number; multiple: boolean };
  'basic.reject': { deliveryTag: number; requeue: boolean };
  'basic.recover-async': { requeue: boolean };
  'basic.recover': { requeue: boolean };
  'basic.recover-ok': NoArguments;
  'basic.nack': { deliveryTag: number; multiple: boolean; requeue: boolean };
  'confirm.select': { nowait: boolean };
  'confirm.select-ok': NoArguments;
  'tx.select': NoArguments;
  'tx.select-ok': NoArguments;
  'tx.commit': NoArguments;
  'tx.commit-ok': NoArguments;
  'tx.rollback': NoArguments;
  'tx.rollback-ok': NoArguments;
}

export type MethodName = keyof MethodArguments;

/** A decoded method: its name (the discriminant), ids and arguments. */
export type AmqpMethod = {
  [N in MethodName]: {
    readonly name: N;
    readonly classId: number;
    readonly methodId: number;
    readonly args: MethodArguments[N];
  };
}[MethodName];
