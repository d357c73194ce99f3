/**
 * Users over HTTP, the same operations as `client.users.*` (and `weir user …`): admin only,
 * which the broker checks (a non-admin gets NOT_AUTHORIZED, 403). Answers never hold a
 * password or a key; a token is shown once, in the answer that makes it.
 */
import { invalid, objectBody, onlyKeys } from './http-io.js';
import type { Route } from './router.js';

const USER_EXAMPLE = {
  name: 'orders-service',
  password: 'a long passphrase',
  allow: ['publish:orders.>', 'subscribe:orders'],
};

export function userRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/users',
      tag: 'users',
      summary:
        'Every user: name, admin, allow, deny, createdAtMs, hasPassword, tokens (ids only). Admin only.',
      handler: ({ client }) => client.users.list(),
    },
    {
      method: 'POST',
      path: '/api/users',
      tag: 'users',
      summary:
        'Adds a user: name, password (8..1024 bytes; optional for a user that uses tokens only), admin, allow, deny (permission strings: publish:PATTERN, subscribe:STREAM[:SUBSCRIPTION]). USER_EXISTS if the name is taken. Admin only, except that while the broker has no users anyone may add the first.',
      body: { description: '{ name, password?, admin?, allow?, deny? }', example: USER_EXAMPLE },
      status: 201,
      handler: async ({ client, body }) => {
        const { name, ...options } = objectBody(await body());
        onlyKeys(options, ['password', 'admin', 'allow', 'deny']);
        if (typeof name !== 'string') throw invalid('name', 'must be a string');
        return client.users.add(name, options);
      },
    },
    {
      method: 'GET',
      path: '/api/users/{user}',
      tag: 'users',
      summary: 'One user (USER_NOT_FOUND if there is none). Admin only.',
      handler: ({ client, params }) => client.users.info(params.user!),
    },
    {
      method: 'PATCH',
      path: '/api/users/{user}',
      tag: 'users',
      summary:
        'Changes admin, allow or deny (each field given replaces the old value); open sessions and clients get the change at their next request. Admin only.',
      body: {
        description: '{ admin?, allow?, deny? }',
        example: { allow: ['publish:orders.>'], deny: ['publish:orders.secret.>'] },
      },
      handler: async ({ client, params, body }) => {
        const changes = objectBody(await body());
        onlyKeys(changes, ['admin', 'allow', 'deny']);
        return client.users.update(params.user!, changes);
      },
    },
    {
      method: 'DELETE',
      path: '/api/users/{user}',
      tag: 'users',
      summary:
        "Removes the user, its password and its tokens; the user's console sessions end. Admin only.",
      handler: async ({ client, params }) => {
        await client.users.delete(params.user!);
        return { deleted: params.user };
      },
    },
    {
      method: 'PUT',
      path: '/api/users/{user}/password',
      tag: 'users',
      summary:
        "Sets the user's password (8..1024 bytes); the user's console sessions and remembered Basic checks end. Admin only.",
      body: { description: '{ password }', example: { password: 'another long passphrase' } },
      handler: async ({ client, params, body }) => {
        const input = objectBody(await body());
        onlyKeys(input, ['password']);
        if (input.password === undefined) throw invalid('password', 'is required');
        await client.users.setPassword(params.user!, input.password as string);
        return { user: params.user, password: 'set' };
      },
    },
    {
      method: 'POST',
      path: '/api/users/{user}/tokens',
      tag: 'users',
      summary:
        'Makes a token for the user: { id, token }. The token (weir_<id>_<secret>) is shown this once; only its hash is kept. Use it as `Authorization: Bearer <token>`. Admin only.',
      status: 201,
      handler: ({ client, params }) => client.users.addToken(params.user!),
    },
    {
      method: 'DELETE',
      path: '/api/users/{user}/tokens/{id}',
      tag: 'users',
      summary:
        'Deletes one of the user’s tokens by id (USER_NOT_FOUND if it has none such). Admin only.',
      handler: async ({ client, params }) => {
        await client.users.deleteToken(params.user!, params.id!);
        return { deleted: params.id };
      },
    },
  ];
}
