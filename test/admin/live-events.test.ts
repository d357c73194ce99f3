/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/** Live stats: the snapshot, its history, and Server-Sent Events that follow the broker. */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, test } from 'node:test';
import { ADMIN_EVENT_CLIENTS_MAX } from '../../src/limits.js';
import { eventually, withAdmin } from './admin-fixture.js';

interface EventReader {
  readonly events: { event: string; data: string }[];
  close(): void;
}

/** Reads an event stream with a raw HTTP request, parsing events as they come. */
function readEvents(url: string): Promise<EventReader & { status: number }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}/api/events`, (response) => {
      const events: { event: string; data: string }[] = [];
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data !== '') events.push({ event, data });
        }
      });
      response.on('error', () => undefined);
      resolve({ status: response.statusCode ?? 0, events, close: () => request.destroy() });
    });
    request.on('error', reject);
  });
}

describe('live stats', () => {
  test('an event stream gets the snapshot at once, then one per sample, following the broker', () =>
    withAdmin({}, async ({ url, client, request }) => {
      const reader = await readEvents(url);
      try {
        assert.equal(reader.status, 200);
        await eventually(() => reader.events.length >= 1, 2000, 'the first event');
        assert.equal(reader.events[0]!.event, 'stats');
        await client.streams.create('orders', { subjects: ['orders'] });
        await client.publish('orders', 'one');
        const seen = await eventually(
          () =>
            reader.events
              .map((event) => JSON.parse(event.data))
              .find((snapshot) =>
                snapshot.streams.some(
                  (stream: { name: string; messages: number }) =>
                    stream.name === 'orders' && stream.messages === 1,
                ),
              ),
          3000,
          'the new stream in an event',
        );
        assert.equal(seen.totals.streams, 1);
        assert.equal(seen.error, null);
        const times = reader.events.map((event) => JSON.parse(event.data).timeMs as number);
        for (let index = 1; index < times.length; index++)
          assert.ok(times[index]! >= times[index - 1]!);

        const history = await request('GET', '/api/stats/history');
        assert.ok(history.json.length >= 2, 'the charts start with what was sampled before');
        assert.ok(
          history.json.every((point: { timeMs: number }) => typeof point.timeMs === 'number'),
        );
      } finally {
        reader.close();
      }
    }));

  test(`at most ADMIN_EVENT_CLIENTS_MAX (${ADMIN_EVENT_CLIENTS_MAX}) event streams at once`, () =>
    withAdmin({}, async ({ url }) => {
      const readers: EventReader[] = [];
      try {
        for (let index = 0; index < ADMIN_EVENT_CLIENTS_MAX; index++) {
          const reader = await readEvents(url);
          assert.equal(reader.status, 200);
          readers.push(reader);
        }
        const refused = await fetch(`${url}/api/events`);
        assert.equal(refused.status, 429);
        assert.equal(
          ((await refused.json()) as { error: { code: string } }).error.code,
          'LIMIT_EXCEEDED',
        );
        readers.pop()!.close();
        const accepted = await eventually(async () => {
          const reader = await readEvents(url);
          if (reader.status === 200) return reader;
          reader.close();
          return null;
        });
        readers.push(accepted);
      } finally {
        for (const reader of readers) reader.close();
      }
    }));
});
