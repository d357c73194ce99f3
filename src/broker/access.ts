/**
 * Who a client is and what it may do: a Principal, and the one check every transport shares
 * (the in-process client runs it, and TCP, HTTP and later AMQP all go through one).
 *
 * Permissions are strings, as `weir user add --allow` takes them:
 *   publish:PATTERN                 publish to subjects matching PATTERN (`*` one token, `>` the rest)
 *   subscribe:STREAM                consume from STREAM, through any of its subscriptions
 *   subscribe:STREAM:SUBSCRIPTION   consume from that subscription only
 * STREAM and SUBSCRIPTION are names, or globs where `*` stands for any run of name characters
 * (`subscribe:*`, `subscribe:orders-*`). A deny permission of the same form beats any allow.
 * `admin` may do everything: create, change, delete and purge streams; delete subscriptions;
 * list, re-drive and delete dead letters; manage users. A user who is not admin may still
 * read stream and subscription information, and seek a subscription it may consume from.
 *
 * Replies (NATS' allow_responses): a publish to an inbox subject (`_INBOX.…`) is allowed to a
 * client that is not admin only as the answer to a request it was delivered (reply-grants.ts),
 * whatever its publish permissions say: `publish:>` does not cover inboxes.
 *
 * Where each check runs: InProcessClient (client.ts) checks every operation before it reaches
 * the broker core, so the TCP server, the HTTP API and later gateways, which all act through
 * such a client, share it.
 */
import { WeirError } from '../util/index.js';
import { NAME_BYTES_MAX, PERMISSION_CACHE_SUBJECTS_MAX } from '../limits.js';
import { invalid } from './option-checks.js';
import { isInboxSubject, SubjectPattern, validatePattern } from './subject.js';

export interface Principal {
  /** The user's name; null for the open broker (no users: dev mode, everything allowed). */
  readonly user: string | null;
  readonly admin: boolean;
  /** Permission strings (see above). */
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** The principal of an embedded client and of every client of a broker without users. */
export const OPEN_PRINCIPAL: Principal = Object.freeze({
  user: null,
  admin: true,
  allow: Object.freeze([]),
  deny: Object.freeze([]),
});

export type Permission =
  | { readonly kind: 'publish'; readonly pattern: string }
  | { readonly kind: 'subscribe'; readonly stream: string; readonly subscription: string | null };

const GLOB = /^[A-Za-z0-9_*-]+$/;

function globPart(value: string, text: string, field: string): string {
  if (!GLOB.test(value) || value.length > NAME_BYTES_MAX) {
    throw invalid(
      field,
      `"${text}": a stream or subscription name, or a glob of name characters and '*'`,
    );
  }
  return value;
}

/** Parses one permission string; INVALID_ARGUMENT naming `field` if it is not one. */
export function parsePermission(text: unknown, field = 'permission'): Permission {
  if (typeof text !== 'string') throw invalid(field, 'must be a string like publish:orders.>');
  const colon = text.indexOf(':');
  const kind = colon === -1 ? text : text.slice(0, colon);
  const rest = colon === -1 ? '' : text.slice(colon + 1);
  if (kind === 'publish') {
    if (rest === '') throw invalid(field, `"${text}" names no subject pattern`);
    return { kind, pattern: validatePattern(rest, field) };
  }
  if (kind === 'subscribe') {
    const parts = rest.split(':');
    if (rest === '' || parts.length > 2) {
      throw invalid(field, `"${text}": expected subscribe:STREAM or subscribe:STREAM:SUBSCRIPTION`);
    }
    return {
      kind,
      stream: globPart(parts[0]!, text, field),
      subscription: parts.length === 2 ? globPart(parts[1]!, text, field) : null,
    };
  }
  throw invalid(field, `"${text}": a permission starts with publish: or subscribe:`);
}

function globMatcher(glob: string): (name: string) => boolean {
  if (!glob.includes('*')) return (name) => name === glob;
  const parts = glob.split('*').map((part) => part.replace(/[-]/g, '\\-'));
  const expression = new RegExp(`^${parts.join('[A-Za-z0-9_-]*')}$`);
  return (name) => expression.test(name);
}

interface CompiledRules {
  readonly publish: readonly SubjectPattern[];
  readonly subscribe: readonly ((stream: string, subscription: string | null) => boolean)[];
}

function compile(permissions: readonly string[], field: string): CompiledRules {
  const publish: SubjectPattern[] = [];
  const subscribe: ((stream: string, subscription: string | null) => boolean)[] = [];
  for (const text of permissions) {
    const permission = parsePermission(text, field);
    if (permission.kind === 'publish') {
      publish.push(new SubjectPattern(permission.pattern));
    } else {
      const stream = globMatcher(permission.stream);
      const only = permission.subscription === null ? null : globMatcher(permission.subscription);
      // subscribe:S covers every subscription of S (and the stream itself); subscribe:S:N covers
      // N only, so it does not grant a check that names no subscription.
      subscribe.push((streamName, subscription) =>
        stream(streamName) ? only === null || (subscription !== null && only(subscription)) : false,
      );
    }
  }
  return { publish, subscribe };
}

function refused(principal: Principal, what: string): WeirError {
  return new WeirError('NOT_AUTHORIZED', `user ${principal.user ?? '(none)'} may not ${what}`);
}

/** A principal's rules, compiled once; the checks every client operation runs. */
export class Access {
  readonly principal: Principal;
  readonly #allow: CompiledRules;
  readonly #deny: CompiledRules;
  /** Publish outcomes by subject (a client publishes to few subjects, many times). */
  readonly #published = new Map<string, boolean>();

  constructor(principal: Principal) {
    this.principal = principal;
    this.#allow = compile(principal.admin ? [] : principal.allow, 'allow');
    this.#deny = compile(principal.admin ? [] : principal.deny, 'deny');
  }

  get admin(): boolean {
    return this.principal.admin;
  }

  /** Publishing to `subject`; always false for an inbox (only reply grants allow those). */
  mayPublish(subject: string): boolean {
    if (this.principal.admin) return true;
    if (isInboxSubject(subject)) return false;
    const known = this.#published.get(subject);
    if (known !== undefined) return known;
    const allowed =
      this.#allow.publish.some((pattern) => pattern.matches(subject)) &&
      !this.#deny.publish.some((pattern) => pattern.matches(subject));
    if (this.#published.size >= PERMISSION_CACHE_SUBJECTS_MAX) this.#published.clear();
    this.#published.set(subject, allowed);
    return allowed;
  }

  /** Consuming from `stream` (through `subscription`, or null for any/none in particular). */
  maySubscribe(stream: string, subscription: string | null): boolean {
    if (this.principal.admin) return true;
    return (
      this.#allow.subscribe.some((rule) => rule(stream, subscription)) &&
      !this.#deny.subscribe.some((rule) => rule(stream, subscription))
    );
  }

  /** NOT_AUTHORIZED: "user NAME may not `what`". */
  refusal(what: string): WeirError {
    return refused(this.principal, what);
  }

  checkPublish(subject: string): void {
    if (!this.mayPublish(subject)) throw refused(this.principal, `publish to ${subject}`);
  }

  checkSubscribe(stream: string, subscription: string | null): void {
    if (!this.maySubscribe(stream, subscription)) {
      throw refused(
        this.principal,
        subscription === null
          ? `consume from stream ${stream}`
          : `consume from ${stream} through subscription ${subscription}`,
      );
    }
  }

  /** Admin actions: `what` completes "may not …" in the error. */
  checkAdmin(what: string): void {
    if (!this.principal.admin) throw refused(this.principal, `${what} (admin only)`);
  }
}

export const OPEN_ACCESS = new Access(OPEN_PRINCIPAL);
