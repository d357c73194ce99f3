/**
 * What the outbox needs of a PostgreSQL connection: `query`. A pg.Client, a pg.PoolClient (the
 * one the application's transaction runs on) and a pg.Pool all have it.
 */
import type pg from 'pg';

export type OutboxQueryable = Pick<pg.ClientBase, 'query'>;
