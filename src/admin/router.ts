/**
 * The admin API's route table: each route names its method, path (with `{parameter}`
 * segments), documentation and handler. The same table answers requests and generates the
 * OpenAPI description served at /api/openapi.json, so the two cannot drift apart.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, Principal } from '../broker/index.js';
import type { Client } from '../protocol/index.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** Path parameters, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The JSON body (undefined when empty); bounded, and application/json only. */
  readonly body: () => Promise<unknown>;
  /** Who the request acts for (OPEN_PRINCIPAL on a broker without users, and on public routes). */
  readonly principal: Principal;
  /** The principal's permissions, for checks the broker cannot make (peeks, re-drive jobs). */
  readonly access: Access;
  /**
   * A client acting for the principal (`broker.connect({ principal, remote })`): the broker
   * checks every call. Made on first use and closed once the response is sent.
   */
  readonly client: Client;
}

export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  /** Query parameters: name -> one line of documentation. */
  readonly query?: Readonly<Record<string, string>>;
  /** The request body: what it holds and an example. */
  readonly body?: { readonly description: string; readonly example: unknown };
  /** Status of a success (default 200). */
  readonly status?: number;
  /** The handler writes the response itself (event streams, metrics text). */
  readonly raw?: boolean;
  /** Answered without credentials even when the broker has users (health, login, logout). */
  readonly public?: boolean;
  /** Returns the JSON to send (ignored when `raw`). */
  readonly handler: (context: RouteContext) => unknown;
}

export interface Match {
  readonly route: Route;
  readonly params: Record<string, string>;
}

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
}

export class Router {
  readonly #routes: CompiledRoute[] = [];

  add(routes: readonly Route[]): void {
    for (const route of routes) {
      this.#routes.push({ route, segments: route.path.split('/').slice(1) });
    }
  }

  get routes(): readonly Route[] {
    return this.#routes.map((compiled) => compiled.route);
  }

  /** The route for a request, `'method'` when the path exists for other methods, or null. */
  match(method: string, pathname: string): Match | 'method' | null {
    const segments = pathname.split('/').slice(1);
    let pathMatched = false;
    for (const compiled of this.#routes) {
      const params = matchSegments(compiled.segments, segments);
      if (params === null) continue;
      if (
        compiled.route.method === method ||
        (method === 'HEAD' && compiled.route.method === 'GET')
      ) {
        return { route: compiled.route, params };
      }
      pathMatched = true;
    }
    return pathMatched ? 'method' : null;
  }

  /** An OpenAPI 3.1 description of every route. */
  openApi(version: string): unknown {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { route, segments } of this.#routes) {
      const parameters: unknown[] = [];
      for (const segment of segments) {
        if (segment.startsWith('{')) {
          parameters.push({
            name: segment.slice(1, -1),
            in: 'path',
            required: true,
            schema: { type: 'string' },
          });
        }
      }
      for (const [name, description] of Object.entries(route.query ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: false,
          description,
          schema: { type: 'string' },
        });
      }
      const operation: Record<string, unknown> = {
        tags: [route.tag],
        summary: route.summary,
        parameters,
        // Public routes need nothing; the others any of the schemes (once the broker has users).
        security: route.public ? [] : [{ basic: [] }, { bearer: [] }, { session: [] }],
        responses: {
          [String(route.status ?? 200)]: { description: 'success' },
          default: {
            description: 'an error with the code of the error registry (docs/errors.md)',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        },
      };
      if (route.body) {
        operation.requestBody = {
          description: route.body.description,
          content: { 'application/json': { example: route.body.example } },
        };
      }
      (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Weir HTTP API', version, description: 'See docs/http-api.md.' },
      paths,
      components: {
        securitySchemes: {
          basic: { type: 'http', scheme: 'basic', description: 'a user and its password' },
          bearer: { type: 'http', scheme: 'bearer', description: 'a token (weir_<id>_<secret>)' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'weir_session',
            description: 'the console session from POST /api/session',
          },
        },
        schemas: {
          Error: {
            type: 'object',
            properties: {
              error: {
                type: 'object',
                properties: { code: { type: 'string' }, message: { type: 'string' } },
                required: ['code', 'message'],
              },
            },
          },
        },
      },
    };
  }
}

function matchSegments(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let index = 0; index < pattern.length; index++) {
    const expected = pattern[index]!;
    const actual = segments[index]!;
    if (expected.startsWith('{')) {
      if (actual === '') return null;
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        return null;
      }
      params[expected.slice(1, -1)] = decoded;
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}
