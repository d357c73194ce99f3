/**
 * CALL frames: the management methods of the Client API, carried as JSON (they are not on
 * the hot path, and JSON keeps them easy to extend). Each method names the Client call it
 * makes; arguments arrive as a JSON array and are checked by the broker like any caller's.
 */
import type { Client, DeadLetter, ScheduleOptions, StreamChanges } from '../protocol/index.js';
import { WeirError } from '../util/index.js';

type Method = (client: Client, parameters: readonly unknown[]) => Promise<unknown>;

/** A dead letter as JSON: the body as base64 (`bodyBase64`) instead of bytes. */
function deadLetterToJson(deadLetter: DeadLetter): unknown {
  const { body, ...rest } = deadLetter;
  return {
    ...rest,
    bodyBase64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
  };
}

/** Schedule options from JSON: a `bodyBase64` (the SDK's form of a Uint8Array body) becomes bytes. */
function scheduleOptionsFromWire(value: Record<string, unknown> | undefined): ScheduleOptions {
  if (value === undefined || !('bodyBase64' in value)) return value as unknown as ScheduleOptions;
  const { bodyBase64, ...rest } = value;
  if (typeof bodyBase64 !== 'string') {
    throw new WeirError('INVALID_ARGUMENT', 'bodyBase64 must be a base64 string');
  }
  if (rest.body !== undefined) {
    throw new WeirError('INVALID_ARGUMENT', 'body and bodyBase64 cannot both be given');
  }
  const bytes = Buffer.from(bodyBase64, 'base64');
  return {
    ...rest,
    body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  } as unknown as ScheduleOptions;
}

function text(parameters: readonly unknown[], index: number, name: string): string {
  const value = parameters[index];
  if (typeof value !== 'string')
    throw new WeirError('INVALID_ARGUMENT', `${name} must be a string`);
  return value;
}

// The broker validates options; here they only need to be objects (or absent).
function options<T>(parameters: readonly unknown[], index: number): T | undefined {
  const value = parameters[index];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object')
    throw new WeirError('INVALID_ARGUMENT', 'options must be an object');
  return value as T;
}

/** Own keys only (a Map): `constructor`, `__proto__`, `toString` are unknown methods, not Object's. */
const METHODS = new Map<string, Method>(
  Object.entries({
    'streams.create': (client, p) =>
      client.streams.create(text(p, 0, 'stream name'), options(p, 1)),
    'streams.info': (client, p) => client.streams.info(text(p, 0, 'stream name')),
    'streams.list': (client) => client.streams.list(),
    'streams.update': (client, p) =>
      client.streams.update(text(p, 0, 'stream name'), p[1] as StreamChanges),
    'streams.delete': (client, p) => client.streams.delete(text(p, 0, 'stream name')),
    'streams.purge': (client, p) => client.streams.purge(text(p, 0, 'stream name')),
    'subscriptions.info': (client, p) =>
      client.subscriptions.info(text(p, 0, 'stream name'), text(p, 1, 'subscription name')),
    'subscriptions.list': (client, p) => client.subscriptions.list(text(p, 0, 'stream name')),
    'subscriptions.delete': (client, p) =>
      client.subscriptions.delete(text(p, 0, 'stream name'), text(p, 1, 'subscription name')),
    'subscriptions.seek': (client, p) => {
      const position = p[2];
      if (position === undefined) throw new WeirError('INVALID_ARGUMENT', 'seek needs a position');
      return client.subscriptions.seek(
        text(p, 0, 'stream name'),
        text(p, 1, 'subscription name'),
        position as Parameters<Client['subscriptions']['seek']>[2],
      );
    },
    'subscriptions.progress': (client, p) =>
      client.subscriptions.progress(
        text(p, 0, 'stream name'),
        text(p, 1, 'subscription name'),
        p[2] as Parameters<Client['subscriptions']['progress']>[2],
      ),
    'subscriptions.progressList': (client, p) =>
      client.subscriptions.progressList(text(p, 0, 'stream name'), text(p, 1, 'subscription name')),
    'deadLetters.list': async (client, p) =>
      (await client.deadLetters.list(text(p, 0, 'dead-letter subject'), options(p, 1))).map(
        deadLetterToJson,
      ),
    'deadLetters.redrive': (client, p) =>
      client.deadLetters.redrive(text(p, 0, 'dead-letter subject'), options(p, 1)),
    'deadLetters.delete': (client, p) =>
      client.deadLetters.delete(text(p, 0, 'dead-letter subject'), options(p, 1)),
    'users.list': (client) => client.users.list(),
    'users.info': (client, p) => client.users.info(text(p, 0, 'user name')),
    'users.add': (client, p) => client.users.add(text(p, 0, 'user name'), options(p, 1)),
    'users.update': (client, p) =>
      client.users.update(text(p, 0, 'user name'), options(p, 1) ?? {}),
    'users.setPassword': (client, p) =>
      client.users.setPassword(text(p, 0, 'user name'), text(p, 1, 'password')),
    'users.delete': (client, p) => client.users.delete(text(p, 0, 'user name')),
    'users.addToken': (client, p) => client.users.addToken(text(p, 0, 'user name')),
    'users.deleteToken': (client, p) =>
      client.users.deleteToken(text(p, 0, 'user name'), text(p, 1, 'token id')),
    'users.whoami': (client) => client.users.whoami(),
    'schedules.create': (client, p) =>
      client.schedules.create(
        text(p, 0, 'schedule name'),
        scheduleOptionsFromWire(options<Record<string, unknown>>(p, 1)),
      ),
    'schedules.list': (client) => client.schedules.list(),
    'schedules.info': (client, p) => client.schedules.info(text(p, 0, 'schedule name')),
    'schedules.delete': (client, p) => client.schedules.delete(text(p, 0, 'schedule name')),
    'cluster.status': (client) => client.cluster.status(),
  } satisfies Record<string, Method>),
);

export const CALL_METHODS = [...METHODS.keys()];

export function callMethod(
  client: Client,
  method: string,
  parameters: readonly unknown[],
): Promise<unknown> {
  const run = METHODS.get(method);
  if (!run) return Promise.reject(new WeirError('INVALID_ARGUMENT', `unknown method "${method}"`));
  return run(client, parameters);
}
