/**
 * Building outgoing frames with the protocol's Writer: `startFrame` leaves room for the header,
 * the caller writes the payload, `finishFrame` fills the header in (frame.ts has the layout).
 * One Writer per frame: the finished bytes go to the transport, which may hold them until the
 * socket takes them, so they are never reused.
 */
import { Writer } from '../protocol/codec.js';
import { FRAME_HEADER_BYTES, writeFrameHeader, type Opcode } from '../protocol/frame.js';

const FRAME_CAPACITY_DEFAULT = 256;

export function startFrame(capacity = FRAME_CAPACITY_DEFAULT): Writer {
  const writer = new Writer(Math.max(capacity, FRAME_HEADER_BYTES));
  writer.u32(0).u32(0).u16(0); // FRAME_HEADER_BYTES of placeholder
  return writer;
}

export function finishFrame(
  writer: Writer,
  opcode: Opcode,
  flags: number,
  requestId: number,
): Uint8Array {
  const bytes = writer.finish();
  writeFrameHeader(bytes, opcode, flags, requestId, bytes.length);
  return bytes;
}
