/**
 * FrameBatch: frames encoded back to back come out of take() in order, each taken piece
 * exactly once and unchanged by later frames, also when a turn outgrows the slab.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBatch, SlabPool } from '../../src/protocol/frame-batch.js';
import { FrameDecoder, OPCODES, type Frame } from '../../src/protocol/frame.js';

test('frames taken in pieces decode in order and stay intact', () => {
  const batch = new FrameBatch(256);
  const taken: Uint8Array[] = [];
  const sent: { requestId: number; payload: number[] }[] = [];
  for (let index = 0; index < 200; index++) {
    // Sizes from 0 to 1,000 bytes: some frames outgrow the 256-byte slab.
    const size = (index * 37) % 1001;
    const payload = Array.from({ length: size }, (_, at) => (index + at) & 0xff);
    const writer = batch.begin();
    for (const byte of payload) writer.u8(byte);
    batch.end(OPCODES.DELIVER, 0, index);
    sent.push({ requestId: index, payload });
    if (index % 3 === 2) {
      const bytes = batch.take();
      assert.ok(bytes !== null);
      taken.push(bytes.slice()); // what the socket would hold now
      taken.push(bytes); // and the same view, checked again at the end
    }
  }
  const last = batch.take();
  if (last) taken.push(last.slice(), last);
  assert.equal(batch.take(), null, 'nothing left');
  assert.equal(batch.pendingBytes, 0);

  // Every view still equals the copy made when it was taken.
  for (let at = 0; at < taken.length; at += 2) assert.deepEqual(taken[at + 1], taken[at]);
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(1 << 20, (frame) =>
    frames.push({ ...frame, payload: frame.payload.slice() }),
  );
  for (let at = 0; at < taken.length; at += 2) decoder.push(taken[at]!);
  assert.equal(frames.length, sent.length);
  frames.forEach((frame, index) => {
    assert.equal(frame.opcode, OPCODES.DELIVER);
    assert.equal(frame.requestId, sent[index]!.requestId);
    assert.deepEqual([...frame.payload], sent[index]!.payload);
  });
});

test('an aborted frame leaves nothing behind', () => {
  const batch = new FrameBatch(1024);
  batch.begin().u32(7);
  batch.end(OPCODES.PING, 0, 1);
  const writer = batch.begin();
  writer.u32(1).u32(2);
  batch.abort();
  const bytes = batch.take();
  const frames: Frame[] = [];
  new FrameDecoder(1 << 20, (frame) => frames.push(frame)).push(bytes!);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.requestId, 1);
});

test('a batch holds a slab only while frames wait, and take() gives it back to the pool for reuse', () => {
  const pool = new SlabPool(1024, 2);
  const first = new FrameBatch(pool);
  const second = new FrameBatch(pool);
  assert.equal(first.holdsSlab, false, 'no slab before the first frame');
  first.begin().u32(1);
  first.end(OPCODES.PING, 0, 1);
  assert.equal(first.holdsSlab, true);
  assert.ok(first.take());
  assert.equal(first.holdsSlab, false, 'taken: the slab went back');
  assert.equal(pool.idleCount, 1);
  second.begin().u32(2);
  second.end(OPCODES.PING, 0, 2);
  assert.equal(pool.idleCount, 0, 'the next batch reuses it');
  second.discard();
  assert.equal(pool.idleCount, 1);
  // A slab grown far past its size for one large flush is not kept.
  first.begin().bytes(new Uint8Array(64 * 1024));
  first.end(OPCODES.DELIVER, 0, 3);
  first.take();
  assert.equal(pool.idleCount, 0);
});
