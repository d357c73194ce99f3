/**
 * The broker's users: names, permissions (access.ts), a password kept as SCRAM keys
 * (protocol/scram.ts: scrypt, never the password itself) and tokens for services (kept as
 * SHA-256 of the token only; the token is shown once, when it is made).
 *
 * File: <dataDir>/users.json, replaced atomically (metadata-file.ts), mode 0600 on the real
 * disk (chmod after each write: it holds no password, but its keys are worth an offline
 * guessing attack):
 *
 *   { "version": 1,
 *     "users": [ { "name", "admin", "allow": [..], "deny": [..], "createdAtMs",
 *                  "password": { "salt", "N", "r", "p", "storedKey", "serverKey" } | null,
 *                  "tokens": [ { "id", "sha256", "createdAtMs" } ] } ] }
 *
 * (salt and keys base64url, sha256 hex). A token reads `weir_<id>_<secret>`: the id finds the
 * user's token without trying every hash, and the secret's hash is compared in constant time.
 *
 * A memory broker keeps its users in memory (file null). No users at all means the broker is
 * open (dev mode): every client gets OPEN_PRINCIPAL. Changes run one at a time (a Lane); a
 * change is visible once its file is written.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { nodeFileSystem, type FileSystem } from '../storage/index.js';
import {
  PASSWORD_BYTES_MAX,
  PASSWORD_BYTES_MIN,
  SCRAM_KEY_BYTES,
  TOKEN_BYTES,
  TOKEN_ID_BYTES,
  TOKEN_ID_DRAWS_MAX,
  USER_PERMISSIONS_MAX,
  USER_TOKENS_MAX,
  USERS_MAX,
} from '../limits.js';
import {
  deriveScramKeys,
  SCRYPT_COST_DEFAULT,
  validScryptCost,
  verifyPassword,
  type ScramKeys,
  type ScryptCost,
} from '../protocol/scram.js';
import type { UserInfo, UserOptions, UserChanges } from '../protocol/index.js';
import { assert, Lane, WeirError } from '../util/index.js';
import { parsePermission, type Principal } from './access.js';
import { readJsonFile, writeJsonFile } from './metadata-file.js';
import { invalid, validateName } from './option-checks.js';

const USERS_VERSION = 1;
export const USERS_FILE = 'users.json';
const TOKEN_PREFIX = 'weir_';

interface StoredToken {
  readonly id: string;
  readonly sha256: string;
  readonly createdAtMs: number;
}

interface StoredUser {
  readonly name: string;
  readonly admin: boolean;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly createdAtMs: number;
  readonly password: ScramKeys | null;
  readonly tokens: readonly StoredToken[];
}

function info(user: StoredUser): UserInfo {
  return {
    name: user.name,
    admin: user.admin,
    allow: [...user.allow],
    deny: [...user.deny],
    createdAtMs: user.createdAtMs,
    hasPassword: user.password !== null,
    tokens: user.tokens.map((token) => ({ id: token.id, createdAtMs: token.createdAtMs })),
  };
}

function principalOf(user: StoredUser): Principal {
  return Object.freeze({
    user: user.name,
    admin: user.admin,
    allow: Object.freeze([...user.allow]),
    deny: Object.freeze([...user.deny]),
  });
}

/** Permission lists as given (strings, each parsed to check it). */
function permissionList(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of permission strings');
  if (value.length > USER_PERMISSIONS_MAX) {
    throw invalid(field, `holds more than ${USER_PERMISSIONS_MAX} permissions`);
  }
  return value.map((text, index) => {
    parsePermission(text, `${field}[${index}]`);
    return text as string;
  });
}

export function checkPassword(value: unknown, field = 'password'): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  const bytes = Buffer.byteLength(value);
  if (bytes < PASSWORD_BYTES_MIN || bytes > PASSWORD_BYTES_MAX) {
    throw invalid(field, `must be ${PASSWORD_BYTES_MIN}..${PASSWORD_BYTES_MAX} bytes long`);
  }
  return value;
}

const decodeKey = (value: unknown, field: string, bytes: number | null): Uint8Array => {
  if (typeof value !== 'string') throw new Error(`${field} is not a string`);
  const key = Buffer.from(value, 'base64url');
  if (bytes !== null && key.length !== bytes) throw new Error(`${field} is not ${bytes} bytes`);
  return key;
};

function parseStoredUser(value: unknown): StoredUser {
  const user = value as Record<string, unknown>;
  if (typeof user !== 'object' || user === null) throw new Error('a user is not an object');
  const name = validateName(user.name, 'name');
  const password = user.password as Record<string, unknown> | null;
  let keys: ScramKeys | null = null;
  if (password !== null && password !== undefined) {
    const cost: ScryptCost = {
      N: Number(password.N),
      r: Number(password.r),
      p: Number(password.p),
    };
    if (!validScryptCost(cost)) throw new Error(`user ${name}: scrypt cost out of range`);
    keys = {
      salt: decodeKey(password.salt, 'salt', null),
      cost,
      storedKey: decodeKey(password.storedKey, 'storedKey', SCRAM_KEY_BYTES),
      serverKey: decodeKey(password.serverKey, 'serverKey', SCRAM_KEY_BYTES),
    };
  }
  const tokens = Array.isArray(user.tokens) ? user.tokens : [];
  return {
    name,
    admin: user.admin === true,
    allow: permissionList(user.allow, 'allow'),
    deny: permissionList(user.deny, 'deny'),
    createdAtMs: Number(user.createdAtMs) || 0,
    password: keys,
    tokens: tokens.map((token: Record<string, unknown>) => {
      if (typeof token.id !== 'string' || typeof token.sha256 !== 'string') {
        throw new Error(`user ${name}: a token without id or hash`);
      }
      return { id: token.id, sha256: token.sha256, createdAtMs: Number(token.createdAtMs) || 0 };
    }),
  };
}

function storedForm(user: StoredUser): unknown {
  const key = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return {
    name: user.name,
    admin: user.admin,
    allow: user.allow,
    deny: user.deny,
    createdAtMs: user.createdAtMs,
    password:
      user.password === null
        ? null
        : {
            salt: key(user.password.salt),
            N: user.password.cost.N,
            r: user.password.cost.r,
            p: user.password.cost.p,
            storedKey: key(user.password.storedKey),
            serverKey: key(user.password.serverKey),
          },
    tokens: user.tokens,
  };
}

function tokenHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface UserStoreOptions {
  readonly fileSystem: FileSystem;
  /** The data directory (users.json lives there); null keeps users in memory only. */
  readonly directory: string | null;
  /**
   * Whether `directory` is on the real disk at that path, so users.json gets mode 0600 there
   * (node fs chmod). Default: when fileSystem is nodeFileSystem. A broker in a cluster passes
   * true: its replicated file system writes through to the real disk at the same paths.
   */
  readonly onDisk?: boolean;
  /** scrypt cost of new passwords (tests pass a cheap one). Default SCRYPT_COST_DEFAULT. */
  readonly scryptCost?: ScryptCost;
  readonly now?: () => number;
}

export class UserStore {
  readonly #options: UserStoreOptions;
  readonly #users = new Map<string, StoredUser>();
  /** Each token id's user and stored token: a token check looks up one entry, not every user. */
  readonly #tokens = new Map<string, { user: StoredUser; token: StoredToken }>();
  readonly #lane = new Lane();
  readonly #cost: ScryptCost;
  readonly #listeners = new Set<() => void>();

  private constructor(options: UserStoreOptions) {
    this.#options = options;
    this.#cost = options.scryptCost ?? SCRYPT_COST_DEFAULT;
  }

  /** Reads users.json (none yet: no users); CORRUPT_DATA if it cannot be read as users. */
  static async open(options: UserStoreOptions): Promise<UserStore> {
    const store = new UserStore(options);
    if (options.directory === null) return store;
    const file = path.join(options.directory, USERS_FILE);
    const stored = (await readJsonFile(options.fileSystem, file)) as {
      version?: unknown;
      users?: unknown;
    } | null;
    if (stored === null) return store;
    try {
      if (stored.version !== USERS_VERSION || !Array.isArray(stored.users)) {
        throw new Error(`version ${String(stored.version)} is not ${USERS_VERSION}`);
      }
      for (const value of stored.users) {
        const user = parseStoredUser(value);
        store.#users.set(user.name, user);
        store.#indexTokens(user);
      }
    } catch (error) {
      throw new WeirError('CORRUPT_DATA', `${file} does not hold users: ${String(error)}`, {
        cause: error,
      });
    }
    return store;
  }

  /** Calls `listener` after every change (the broker re-checks its clients' principals). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The scrypt cost of new passwords. */
  get scryptCost(): ScryptCost {
    return this.#cost;
  }

  /** Users exist: every client must authenticate. */
  get enabled(): boolean {
    return this.#users.size > 0;
  }

  get size(): number {
    return this.#users.size;
  }

  list(): UserInfo[] {
    return [...this.#users.values()]
      .sort((left, right) => (left.name < right.name ? -1 : 1))
      .map(info);
  }

  get(name: string): UserInfo {
    return info(this.#user(name));
  }

  /** The user's principal, or null if there is no such user. */
  principal(name: string): Principal | null {
    const user = this.#users.get(name);
    return user === undefined ? null : principalOf(user);
  }

  /** The user's SCRAM keys, or null (no such user, or no password). */
  scramKeys(name: string): ScramKeys | null {
    return this.#users.get(name)?.password ?? null;
  }

  /** The principal whose password this is, or null (constant time in the password). */
  async checkPassword(name: string, password: string): Promise<Principal | null> {
    const user = this.#users.get(name);
    if (user === undefined || user.password === null) return null;
    if (!(await verifyPassword(user.password, password))) return null;
    const now = this.#users.get(name);
    return now === undefined || now.password !== user.password ? null : principalOf(now);
  }

  /** The principal whose token this is, or null. */
  checkToken(token: string): Principal | null {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) return null;
    const separator = token.indexOf('_', TOKEN_PREFIX.length);
    if (separator === -1) return null;
    const id = token.slice(TOKEN_PREFIX.length, separator);
    const hash = Buffer.from(tokenHash(token.slice(separator + 1)), 'hex');
    const found = this.#tokens.get(id);
    if (found === undefined) return null;
    const expected = Buffer.from(found.token.sha256, 'hex');
    return expected.length === hash.length && timingSafeEqual(expected, hash)
      ? principalOf(found.user)
      : null;
  }

  add(name: unknown, options: UserOptions = {}): Promise<UserInfo> {
    return this.#lane.run(async () => {
      const userName = validateName(name, 'name');
      if (this.#users.has(userName)) {
        throw new WeirError('USER_EXISTS', `user ${userName} exists`);
      }
      if (this.#users.size >= USERS_MAX) {
        throw new WeirError('LIMIT_EXCEEDED', `there are ${USERS_MAX} users`);
      }
      if (typeof options !== 'object' || options === null) {
        throw invalid('options', 'must be an object');
      }
      const password =
        options.password === undefined
          ? null
          : await deriveScramKeys(checkPassword(options.password), this.#cost);
      const user: StoredUser = {
        name: userName,
        admin: options.admin === true,
        allow: permissionList(options.allow, 'allow'),
        deny: permissionList(options.deny, 'deny'),
        createdAtMs: this.#now(),
        password,
        tokens: [],
      };
      await this.#write(new Map(this.#users).set(userName, user));
      return info(user);
    });
  }

  /** Changes admin, allow and deny (each one given replaces what was there). */
  update(name: unknown, changes: UserChanges): Promise<UserInfo> {
    return this.#lane.run(async () => {
      const user = this.#user(name);
      if (typeof changes !== 'object' || changes === null) {
        throw invalid('changes', 'must be an object');
      }
      const changed: StoredUser = {
        ...user,
        admin: changes.admin === undefined ? user.admin : changes.admin === true,
        allow: changes.allow === undefined ? user.allow : permissionList(changes.allow, 'allow'),
        deny: changes.deny === undefined ? user.deny : permissionList(changes.deny, 'deny'),
      };
      await this.#write(new Map(this.#users).set(user.name, changed));
      return info(changed);
    });
  }

  setPassword(name: unknown, password: unknown): Promise<void> {
    return this.#lane.run(async () => {
      const user = this.#user(name);
      const keys = await deriveScramKeys(checkPassword(password), this.#cost);
      await this.#write(new Map(this.#users).set(user.name, { ...user, password: keys }));
    });
  }

  remove(name: unknown): Promise<void> {
    return this.#lane.run(async () => {
      const user = this.#user(name);
      const users = new Map(this.#users);
      users.delete(user.name);
      await this.#write(users);
    });
  }

  /** A new token for the user: returned once (only its hash is kept). */
  addToken(name: unknown): Promise<{ id: string; token: string }> {
    return this.#lane.run(async () => {
      const user = this.#user(name);
      if (user.tokens.length >= USER_TOKENS_MAX) {
        throw new WeirError('LIMIT_EXCEEDED', `user ${user.name} holds ${USER_TOKENS_MAX} tokens`);
      }
      // Ids are 48 random bits: a clash is all but impossible, and another draw settles it.
      let id = randomBytes(TOKEN_ID_BYTES).toString('hex');
      for (let draw = 1; this.#tokens.has(id); draw++) {
        assert(draw < TOKEN_ID_DRAWS_MAX, 'a fresh token id within a few draws');
        id = randomBytes(TOKEN_ID_BYTES).toString('hex');
      }
      const secret = randomBytes(TOKEN_BYTES).toString('base64url');
      const token: StoredToken = { id, sha256: tokenHash(secret), createdAtMs: this.#now() };
      await this.#write(
        new Map(this.#users).set(user.name, { ...user, tokens: [...user.tokens, token] }),
      );
      return { id, token: `${TOKEN_PREFIX}${id}_${secret}` };
    });
  }

  removeToken(name: unknown, id: unknown): Promise<void> {
    return this.#lane.run(async () => {
      const user = this.#user(name);
      if (!user.tokens.some((token) => token.id === id)) {
        throw new WeirError('USER_NOT_FOUND', `user ${user.name} has no token ${String(id)}`);
      }
      const tokens = user.tokens.filter((token) => token.id !== id);
      await this.#write(new Map(this.#users).set(user.name, { ...user, tokens }));
    });
  }

  #user(name: unknown): StoredUser {
    const userName = validateName(name, 'name');
    const user = this.#users.get(userName);
    if (user === undefined) throw new WeirError('USER_NOT_FOUND', `no user ${userName}`);
    return user;
  }

  #indexTokens(user: StoredUser): void {
    for (const token of user.tokens) this.#tokens.set(token.id, { user, token });
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  /** Writes the new set of users, then makes it the current one. */
  async #write(users: Map<string, StoredUser>): Promise<void> {
    const { directory, fileSystem } = this.#options;
    if (directory !== null) {
      const file = path.join(directory, USERS_FILE);
      await writeJsonFile(fileSystem, file, {
        version: USERS_VERSION,
        users: [...users.values()].map(storedForm),
      });
      if (this.#options.onDisk ?? fileSystem === nodeFileSystem) await fs.chmod(file, 0o600);
    }
    this.#users.clear();
    this.#tokens.clear();
    for (const [name, user] of users) {
      this.#users.set(name, user);
      this.#indexTokens(user);
    }
    for (const listener of this.#listeners) listener();
  }
}
