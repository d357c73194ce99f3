/**
 * The management half of `Client` (streams, subscriptions, dead letters) over CALL frames: the
 * method name and its arguments as a JSON array; the RESULT is the return value as JSON.
 * Trailing arguments left out by the caller are not sent (never as null), so the server sees
 * the same arguments the embedded broker would.
 */
import {
  WeirError,
  type ClusterApi,
  type ClusterStatus,
  type DeadLetter,
  type DeadLettersApi,
  type JobProgress,
  type RedriveResult,
  type ScheduleInfo,
  type ScheduleOptions,
  type SchedulesApi,
  type StreamInfo,
  type StreamsApi,
  type SubscriptionInfo,
  type SubscriptionsApi,
  type UserInfo,
  type UsersApi,
} from '../protocol/index.js';

/** Sends one CALL; resolves with the parsed RESULT. */
export type CallFunction = (method: string, args: readonly unknown[]) => Promise<unknown>;

export function createStreamsApi(call: CallFunction): StreamsApi {
  return {
    create: async (name, options) => (await call('streams.create', [name, options])) as StreamInfo,
    info: async (name) => (await call('streams.info', [name])) as StreamInfo,
    list: async () => (await call('streams.list', [])) as StreamInfo[],
    update: async (name, changes) => (await call('streams.update', [name, changes])) as StreamInfo,
    delete: async (name) => {
      await call('streams.delete', [name]);
    },
    purge: async (name) => {
      await call('streams.purge', [name]);
    },
  };
}

export function createSubscriptionsApi(call: CallFunction): SubscriptionsApi {
  return {
    info: async (stream, name) =>
      (await call('subscriptions.info', [stream, name])) as SubscriptionInfo,
    list: async (stream) => (await call('subscriptions.list', [stream])) as SubscriptionInfo[],
    delete: async (stream, name) => {
      await call('subscriptions.delete', [stream, name]);
    },
    seek: async (stream, name, position) => {
      await call('subscriptions.seek', [stream, name, position]);
    },
    progress: async (stream, name, selector) =>
      (await call('subscriptions.progress', [stream, name, selector])) as JobProgress | null,
    progressList: async (stream, name) =>
      (await call('subscriptions.progressList', [stream, name])) as JobProgress[],
  };
}

export function createUsersApi(call: CallFunction): UsersApi {
  return {
    list: async () => (await call('users.list', [])) as UserInfo[],
    info: async (name) => (await call('users.info', [name])) as UserInfo,
    add: async (name, options) => (await call('users.add', [name, options])) as UserInfo,
    update: async (name, changes) => (await call('users.update', [name, changes])) as UserInfo,
    setPassword: async (name, password) => {
      await call('users.setPassword', [name, password]);
    },
    delete: async (name) => {
      await call('users.delete', [name]);
    },
    addToken: async (name) =>
      (await call('users.addToken', [name])) as { id: string; token: string },
    deleteToken: async (name, id) => {
      await call('users.deleteToken', [name, id]);
    },
    whoami: async () =>
      (await call('users.whoami', [])) as {
        user: string | null;
        admin: boolean;
        allow: string[];
        deny: string[];
      },
  };
}

export function createDeadLettersApi(call: CallFunction): DeadLettersApi {
  return {
    list: async (subject, options) => {
      const result = await call('deadLetters.list', [subject, options]);
      if (!Array.isArray(result)) {
        throw new WeirError('PROTOCOL_ERROR', 'deadLetters.list did not return a list');
      }
      return result.map(fromWire);
    },
    redrive: async (subject, options) =>
      (await call('deadLetters.redrive', [subject, options])) as RedriveResult,
    delete: async (subject, options) =>
      (await call('deadLetters.delete', [subject, options])) as { readonly deleted: number },
  };
}

/** A dead letter travels with its body as `bodyBase64` (JSON has no bytes). */
function fromWire(value: unknown): DeadLetter {
  const { bodyBase64, ...rest } = (value ?? {}) as { bodyBase64?: unknown };
  if (typeof bodyBase64 !== 'string') {
    throw new WeirError('PROTOCOL_ERROR', 'a dead letter from deadLetters.list has no bodyBase64');
  }
  let binary: string;
  try {
    binary = atob(bodyBase64); // not Buffer: this file must run in a browser too
  } catch (error) {
    throw new WeirError('PROTOCOL_ERROR', 'a dead letter body is not base64', { cause: error });
  }
  const body = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) body[index] = binary.charCodeAt(index);
  return { ...(rest as Omit<DeadLetter, 'body'>), body };
}

export function createSchedulesApi(call: CallFunction): SchedulesApi {
  return {
    create: async (name, options) =>
      (await call('schedules.create', [name, scheduleOptionsToWire(options)])) as ScheduleInfo,
    list: async () => (await call('schedules.list', [])) as ScheduleInfo[],
    info: async (name) => (await call('schedules.info', [name])) as ScheduleInfo,
    delete: async (name) => {
      await call('schedules.delete', [name]);
    },
  };
}

/**
 * Schedule options as JSON: a Uint8Array body travels as `bodyBase64` (the server turns it
 * back into bytes before the broker sees it); a string or JSON body travels as it is.
 */
export function scheduleOptionsToWire(options: ScheduleOptions): unknown {
  if (typeof options !== 'object' || options === null) return options;
  const body: unknown = options.body;
  if (!(body instanceof Uint8Array)) return options;
  const { body: _body, ...rest } = options;
  let binary = '';
  for (const byte of body) binary += String.fromCharCode(byte);
  return { ...rest, bodyBase64: btoa(binary) };
}

export function createClusterApi(call: CallFunction): ClusterApi {
  return {
    status: async () => {
      const status = await call('cluster.status', []);
      if (typeof status !== 'object' || status === null || !('clusterMode' in status)) {
        throw new WeirError('PROTOCOL_ERROR', 'cluster.status did not return a cluster status');
      }
      return status as ClusterStatus;
    },
  };
}
