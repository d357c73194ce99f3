/**
 * How every client command reaches the server, in one place: the flags that say where and as
 * whom (`--url`, `--user`, `--password-stdin`, `--token`, `--tls-ca`), and the one function
 * that turns them into the SDK's `connect(url, { user, password, token, tls })`.
 *
 * A password never goes on the command line (where `ps` and shell history show it): it comes
 * from WEIR_PASSWORD or from the first line of stdin (`--password-stdin`). A token may be
 * given as `--token` or, better, as WEIR_TOKEN. `weir://user:pass@host` in `--url` is the
 * SDK's to read; the flags, when given, are passed next to it.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { connect, type ConnectOptions } from '../client/index.js';
import type { Client } from '../protocol/index.js';
import { WeirError } from '../util/index.js';
import { readSecretLine } from './standard-input.js';

/** The parsed flags of a client command that say where and as whom to connect. */
export interface ClientFlags {
  readonly url: string;
  readonly user?: string;
  readonly passwordStdin?: boolean;
  readonly token?: string;
  readonly tlsCa?: string;
}

type ClientFlagName = 'url' | 'user' | 'passwordStdin' | 'token' | 'tlsCa';

/** The credential options every command with `--url` takes (added by addCredentialOptions). */
const credentialOptions = () => [
  new Option('--user <name>', 'log in as this user (password: env WEIR_PASSWORD or stdin)'),
  new Option('--password-stdin', "read --user's password from the first line of stdin"),
  new Option('--token <token>', 'log in with a token (env WEIR_TOKEN)'),
  new Option('--tls-ca <file>', 'connect over TLS, trusting the CA certificates in this PEM file'),
];

/**
 * Gives every command that has `--url` the credential options as well, so that no client
 * command can be added without them. A command that defines one of them itself (`weir user
 * add --password-stdin` is the new user's password) keeps its own.
 */
export function addCredentialOptions(command: Command): void {
  const has = (flag: string) => command.options.some((option) => option.long === flag);
  if (has('--url')) {
    for (const option of credentialOptions()) {
      if (!has(option.long!)) command.addOption(option);
    }
  }
  for (const child of command.commands) addCredentialOptions(child);
}

/** Splits a command's options into the client flags and the rest (the command's own). */
export function splitClientFlags<T extends ClientFlags>(
  options: T,
): [ClientFlags, Omit<T, ClientFlagName>] {
  const { url, user, passwordStdin, token, tlsCa, ...rest } = options;
  const flags: ClientFlags = {
    url,
    ...(user === undefined ? {} : { user }),
    ...(passwordStdin === undefined ? {} : { passwordStdin }),
    ...(token === undefined ? {} : { token }),
    ...(tlsCa === undefined ? {} : { tlsCa }),
  };
  return [flags, rest];
}

/** The SDK's connect options for these flags (reads the password and the CA file). */
export async function connectOptions(flags: ClientFlags): Promise<ConnectOptions> {
  if (flags.user !== undefined && flags.token !== undefined) {
    throw new WeirError('INVALID_ARGUMENT', 'give --user or --token, not both');
  }
  if (flags.passwordStdin === true && flags.user === undefined) {
    throw new WeirError('INVALID_ARGUMENT', '--password-stdin is the password of --user NAME');
  }
  let credentials: Pick<ConnectOptions, 'user' | 'password' | 'token'> = {};
  if (flags.user !== undefined) {
    const password =
      flags.passwordStdin === true ? await readSecretLine('password') : process.env.WEIR_PASSWORD;
    if (password === undefined || password === '') {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `--user ${flags.user} needs a password: set WEIR_PASSWORD or pass --password-stdin`,
      );
    }
    credentials = { user: flags.user, password };
  } else {
    // WEIR_TOKEN is the default of --token; an explicit --user overrides it.
    const token = flags.token ?? process.env.WEIR_TOKEN;
    if (token !== undefined && token !== '') credentials = { token };
  }
  let tls: ConnectOptions['tls'] | undefined;
  if (flags.tlsCa !== undefined) {
    try {
      tls = { ca: await readFile(flags.tlsCa) };
    } catch (error) {
      throw new WeirError('INVALID_ARGUMENT', `--tls-ca ${flags.tlsCa}: ${String(error)}`, {
        cause: error,
      });
    }
  }
  return { ...credentials, ...(tls === undefined ? {} : { tls }) };
}

/** Connects as the flags say, without reconnecting (a CLI should fail fast and say why). */
export async function openClient(flags: ClientFlags, name = 'weir-cli'): Promise<Client> {
  return connect(flags.url, { ...(await connectOptions(flags)), name, reconnect: false });
}

/** Runs `work` with a client connected as the flags say, and closes it. */
export async function withClient<T>(
  flags: ClientFlags,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await openClient(flags);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
