/**
 * `weir user add | ls | info | rm | passwd | edit | token add | token rm`: the broker's users
 * (src/broker/users.ts), on a stopped broker's data directory or through a running one
 * (user-directory.ts). Human output by default, `--json` for scripts.
 *
 * A password comes from `--password-stdin` (the first line of stdin: the way to give it) or
 * `--password P` (visible to `ps` and kept in shell history: for throwaway set-ups only).
 */
import type { UserChanges, UserInfo, UserOptions } from '../protocol/index.js';
import { WeirError } from '../util/index.js';
import { readSecretLine } from './standard-input.js';
import { withUsers, type UserTargetFlags } from './user-directory.js';

/** How a command is told a password. */
export interface PasswordFlags {
  readonly password?: string;
  readonly passwordStdin?: boolean;
}

/**
 * The password the flags give, or undefined when they give none. On these commands
 * `--password-stdin` is the user's new password, so the connection to a server takes its own
 * password from WEIR_PASSWORD (or a token), never from stdin.
 */
async function passwordFrom(flags: PasswordFlags): Promise<string | undefined> {
  if (flags.password !== undefined && flags.passwordStdin === true) {
    throw new WeirError('INVALID_ARGUMENT', 'give --password or --password-stdin, not both');
  }
  if (flags.passwordStdin === true) return readSecretLine('password');
  return flags.password;
}

/**
 * The flags of the server connection for `user add` and `user passwd`: stdin is never read for
 * it (see passwordFrom), and `user add --token` asks for a token for the new user, so there
 * the admin's own token can come from WEIR_TOKEN only.
 */
function connection(flags: Omit<UserTargetFlags, 'token'>): UserTargetFlags {
  const { url, user, tlsCa, dataDir } = flags;
  return {
    url,
    passwordStdin: false,
    ...(user === undefined ? {} : { user }),
    ...(tlsCa === undefined ? {} : { tlsCa }),
    ...(dataDir === undefined ? {} : { dataDir }),
  };
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

function permissions(info: UserInfo): string {
  const parts = [];
  if (info.allow.length > 0) parts.push(`allow ${info.allow.join(', ')}`);
  if (info.deny.length > 0) parts.push(`deny ${info.deny.join(', ')}`);
  return parts.length === 0 ? (info.admin ? 'everything (admin)' : 'nothing') : parts.join('; ');
}

const TABLE_HEADER = `${'NAME'.padEnd(24)} ${'ADMIN'.padEnd(5)} ${'PASSWORD'.padEnd(8)} ${'TOKENS'.padStart(6)}  PERMISSIONS`;

function userRow(info: UserInfo): string {
  return `${info.name.padEnd(24)} ${yesNo(info.admin).padEnd(5)} ${yesNo(info.hasPassword).padEnd(8)} ${String(info.tokens.length).padStart(6)}  ${permissions(info)}`;
}

export function formatUserInfo(info: UserInfo): string {
  const time = (ms: number) => new Date(ms).toISOString();
  const lines = [
    `user       ${info.name}`,
    `admin      ${yesNo(info.admin)}`,
    `password   ${info.hasPassword ? 'set' : 'none (logs in by token)'}`,
    `allow      ${info.allow.length === 0 ? 'none' : info.allow.join(', ')}`,
    `deny       ${info.deny.length === 0 ? 'none' : info.deny.join(', ')}`,
    `created    ${time(info.createdAtMs)}`,
    `tokens     ${info.tokens.length === 0 ? 'none' : info.tokens.length}`,
  ];
  for (const token of info.tokens) lines.push(`  ${token.id}  made ${time(token.createdAtMs)}`);
  return lines.join('\n').trimEnd();
}

/** `--allow none` / `--deny none` on `user edit` empties the list (none is no permission). */
function permissionChange(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.length === 1 && values[0] === 'none' ? [] : [...values];
}

export interface UserAddFlags extends Omit<UserTargetFlags, 'token'>, PasswordFlags {
  readonly token: boolean;
  readonly admin: boolean;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly json: boolean;
}

export async function userAdd(name: string, flags: UserAddFlags): Promise<void> {
  const password = await passwordFrom(flags);
  if (password === undefined && !flags.token) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      'a user needs a password (--password-stdin) or a token (--token) to log in',
    );
  }
  const options: UserOptions = {
    admin: flags.admin,
    allow: flags.allow,
    deny: flags.deny,
    ...(password === undefined ? {} : { password }),
  };
  await withUsers(
    connection(flags),
    async (users) => {
      const added = await users.add(name, options);
      const token = flags.token ? await users.addToken(name) : null;
      const info = token === null ? added : await users.info(name);
      if (flags.json) {
        console.log(JSON.stringify({ user: info, ...(token === null ? {} : { token }) }));
        return;
      }
      console.log(`added user ${name}: ${permissions(info)}`);
      if (token !== null) {
        console.log(`token ${token.id}: ${token.token}`);
        console.log('(shown this once: only its hash is kept)');
      }
    },
    true,
  );
}

export async function userList(flags: UserTargetFlags & { json: boolean }): Promise<void> {
  await withUsers(flags, async (users) => {
    const list = await users.list();
    if (flags.json) console.log(JSON.stringify(list));
    else if (list.length === 0) console.log('no users (the broker is open: dev mode)');
    else console.log([TABLE_HEADER, ...list.map(userRow)].join('\n'));
  });
}

export async function userInfo(
  name: string,
  flags: UserTargetFlags & { json: boolean },
): Promise<void> {
  await withUsers(flags, async (users) => {
    const info = await users.info(name);
    console.log(flags.json ? JSON.stringify(info, null, 2) : formatUserInfo(info));
  });
}

export async function userRemove(name: string, flags: UserTargetFlags): Promise<void> {
  await withUsers(flags, (users) => users.delete(name));
  console.log(`deleted user ${name}`);
}

export async function userPassword(
  name: string,
  flags: UserTargetFlags & PasswordFlags,
): Promise<void> {
  const password = await passwordFrom(flags);
  if (password === undefined) {
    throw new WeirError('INVALID_ARGUMENT', 'give the new password with --password-stdin');
  }
  await withUsers(connection(flags), (users) => users.setPassword(name, password));
  console.log(`changed the password of ${name}`);
}

export interface UserEditFlags extends UserTargetFlags {
  readonly admin?: boolean;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
  readonly json: boolean;
}

export async function userEdit(name: string, flags: UserEditFlags): Promise<void> {
  const allow = permissionChange(flags.allow);
  const deny = permissionChange(flags.deny);
  const changes: UserChanges = {
    ...(flags.admin === undefined ? {} : { admin: flags.admin }),
    ...(allow === undefined ? {} : { allow }),
    ...(deny === undefined ? {} : { deny }),
  };
  if (Object.keys(changes).length === 0) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      'nothing to change: give --admin, --no-admin, --allow or --deny',
    );
  }
  await withUsers(flags, async (users) => {
    const info = await users.update(name, changes);
    console.log(flags.json ? JSON.stringify(info, null, 2) : formatUserInfo(info));
  });
}

/** Prints the new token alone on stdout (for `TOKEN=$(weir user token add svc ...)`). */
export async function userTokenAdd(
  name: string,
  flags: UserTargetFlags & { json: boolean },
): Promise<void> {
  await withUsers(flags, async (users) => {
    const token = await users.addToken(name);
    if (flags.json) console.log(JSON.stringify(token));
    else {
      console.log(token.token);
      console.error(`token ${token.id} of ${name}: shown this once, only its hash is kept`);
    }
  });
}

export async function userTokenRemove(
  name: string,
  id: string,
  flags: UserTargetFlags,
): Promise<void> {
  await withUsers(flags, (users) => users.deleteToken(name, id));
  console.log(`deleted token ${id} of ${name}`);
}
