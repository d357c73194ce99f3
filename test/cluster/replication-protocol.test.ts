/**
 * The replication codec: every frame round-trips through FrameDecoder split at every chunk
 * boundary, and random bytes never do anything but decode or raise PROTOCOL_ERROR.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  FrameDecoder,
  NONCE_BYTES,
  decodeFrame,
  encodeFrame,
  encodeOp,
  neverShipped,
  setOpSeq,
  validPath,
  type Frame,
  type Op,
} from '../../src/cluster/replication-protocol.js';
import { WeirError } from '../../src/util/index.js';

const OPS: Op[] = [
  { kind: 'mkdir', path: 'streams/orders' },
  { kind: 'open', path: 'streams/orders/0.log' },
  { kind: 'write', path: 'streams/orders/0.log', position: 2 ** 40, bytes: Buffer.from('hello') },
  { kind: 'truncate', path: 'a', length: 7 },
  { kind: 'sync', path: 'a' },
  { kind: 'syncDirectory', path: '' },
  { kind: 'unlink', path: 'a' },
  { kind: 'rename', from: 'users.json.tmp', to: 'users.json' },
  { kind: 'removeDirectory', path: 'old' },
];

const FRAMES: Exclude<Frame, { type: 'op' }>[] = [
  { type: 'hello', version: 1, epoch: 3, nonce: Buffer.alloc(NONCE_BYTES, 7), nodeId: 'a' },
  {
    type: 'join',
    version: 1,
    epoch: 3,
    appliedEpoch: 2,
    appliedSeq: 99,
    exact: true,
    proof: Buffer.alloc(32, 1),
    nodeId: 'b',
  },
  { type: 'start', mode: 'snapshot', seq: 12 },
  { type: 'ack', seq: 2 ** 50 },
  { type: 'snapshotDirectory', path: 'streams' },
  { type: 'snapshotFile', path: 'streams/x', position: 5, bytes: Buffer.from('chunk') },
  { type: 'snapshotEnd', seq: 12 },
];

function normalize(frame: Frame): unknown {
  return JSON.parse(
    JSON.stringify(frame, (_key, value: unknown) =>
      value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value,
    ),
  );
}

test('every frame round-trips through the decoder split at every byte position', () => {
  const encoded = [
    ...FRAMES.map((frame) => encodeFrame(frame)),
    ...OPS.map((op, index) => {
      const frame = encodeOp(0, op);
      setOpSeq(frame, index + 1);
      return frame;
    }),
  ];
  const expected = [
    ...FRAMES.map(normalize),
    ...OPS.map((op, index) => normalize({ type: 'op', seq: index + 1, op })),
  ];
  const stream = Buffer.concat(encoded);
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    const bodies = [
      ...decoder.push(stream.subarray(0, cut)),
      ...decoder.push(stream.subarray(cut)),
    ];
    assert.deepEqual(
      bodies.map((body) => normalize(decodeFrame(body))),
      expected,
      `cut at ${cut}`,
    );
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test('random bytes in random chunks decode or raise PROTOCOL_ERROR, nothing else', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { maxLength: 8 }),
      fc.boolean(),
      (chunks, framed) => {
        const decoder = new FrameDecoder(1024);
        try {
          for (const chunk of chunks) {
            // Half the runs wrap each chunk in a valid length prefix, to reach decodeFrame.
            const bytes =
              framed && chunk.length > 0
                ? Buffer.concat([lengthPrefix(chunk.length), chunk])
                : Buffer.from(chunk);
            for (const body of decoder.push(bytes)) decodeFrame(body);
          }
        } catch (error) {
          assert.ok(error instanceof WeirError && error.code === 'PROTOCOL_ERROR', String(error));
        }
      },
    ),
    { numRuns: 2_000 },
  );
});

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length);
  return prefix;
}

test('paths that climb out of the directory are refused, and the local-only names are recognised', () => {
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a//b', 'a/./b', 'a\\b', 'a\0b', 'a/']) {
    assert.equal(validPath(bad), false, bad);
  }
  for (const good of ['', 'a', 'streams/orders/00000.log', '.hidden'])
    assert.equal(validPath(good), true, good);
  const body = encodeFrame({ type: 'snapshotDirectory', path: 'ok' }).subarray(4);
  const evil = Buffer.concat([body.subarray(0, 1), Buffer.from([0, 5]), Buffer.from('../ok')]);
  assert.throws(() => decodeFrame(evil), { code: 'PROTOCOL_ERROR' });
  for (const name of [
    'LOCK',
    'LOCK.takeover',
    'LOCK.1.tmp',
    '.replica',
    '.replica.tmp',
    '.replica.staging/x',
  ]) {
    assert.equal(neverShipped(name), true, name);
  }
  for (const name of ['LOCKS', 'streams/LOCK', 'users.json', '.replicas'])
    assert.equal(neverShipped(name), false, name);
});
