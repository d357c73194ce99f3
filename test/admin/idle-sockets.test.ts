/**
 * Silent HTTP sockets cannot lock the health checks out: with ADMIN_HTTP_CONNECTIONS_MAX
 * sockets open that send nothing (or half a request line), GET /healthz, /readyz and /metrics
 * still answer at once, because a new connection takes the place of the oldest one with no
 * request in progress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { ADMIN_HTTP_CONNECTIONS_MAX } from '../../src/limits.js';
import { request, withAdmin } from './admin-fixture.js';

/** How long a health check may take with the connection table full of silent sockets. */
const ANSWER_WITHIN_MS = 2000;
const HALF_REQUESTS = 16;

function openSocket(port: number, send: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      if (send !== '') socket.write(send);
      resolve(socket);
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

test('with ADMIN_HTTP_CONNECTIONS_MAX silent sockets open, /healthz, /readyz and /metrics answer within 2 s', () =>
  withAdmin({}, async ({ admin }) => {
    const port = admin.address().port;
    const sockets: net.Socket[] = [];
    try {
      for (let index = 0; index < ADMIN_HTTP_CONNECTIONS_MAX; index++) {
        sockets.push(await openSocket(port, index < HALF_REQUESTS ? 'GET /heal' : ''));
      }
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const started = performance.now();
        const answer = await request(admin.address().url, 'GET', path);
        const elapsedMs = performance.now() - started;
        assert.equal(answer.status, 200, `${path}: ${answer.text}`);
        assert.ok(elapsedMs < ANSWER_WITHIN_MS, `${path} answered in ${Math.round(elapsedMs)} ms`);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }));
