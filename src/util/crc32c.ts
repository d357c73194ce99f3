/**
 * CRC-32C (Castagnoli, polynomial 0x82F63B78 reflected), as used by iSCSI, ext4 and Kafka's
 * record batches. Slicing-by-16: sixteen 256-entry tables let the loop consume 16 bytes per
 * step, read as four little-endian words through a DataView (V8 compiles those reads to plain
 * loads). About 2× the speed of slicing-by-8 on byte reads, which is what makes a
 * pure-JavaScript checksum cheap enough for the append path (no native addon).
 */
const POLYNOMIAL = 0x82f63b78;
const SLICES = 16;

function buildTables(): Int32Array[] {
  const first = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    first[n] = c;
  }
  const tables = [first];
  for (let slice = 1; slice < SLICES; slice++) {
    const previous = tables[slice - 1]!;
    const table = new Int32Array(256);
    for (let n = 0; n < 256; n++) table[n] = (previous[n]! >>> 8) ^ first[previous[n]! & 0xff]!;
    tables.push(table);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15] = buildTables() as [
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
];

/** Continues a CRC-32C over `bytes[start, end)`; pass the previous result as `crc` (0 to begin). */
export function crc32c(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  let c = ~crc;
  let i = start;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end16 = end - ((end - start) & 15);
  while (i < end16) {
    const a = c ^ view.getInt32(i, true);
    const b = view.getInt32(i + 4, true);
    const d = view.getInt32(i + 8, true);
    const e = view.getInt32(i + 12, true);
    c =
      T15[a & 0xff]! ^
      T14[(a >>> 8) & 0xff]! ^
      T13[(a >>> 16) & 0xff]! ^
      T12[a >>> 24]! ^
      T11[b & 0xff]! ^
      T10[(b >>> 8) & 0xff]! ^
      T9[(b >>> 16) & 0xff]! ^
      T8[b >>> 24]! ^
      T7[d & 0xff]! ^
      T6[(d >>> 8) & 0xff]! ^
      T5[(d >>> 16) & 0xff]! ^
      T4[d >>> 24]! ^
      T3[e & 0xff]! ^
      T2[(e >>> 8) & 0xff]! ^
      T1[(e >>> 16) & 0xff]! ^
      T0[e >>> 24]!;
    i += 16;
  }
  while (i < end) c = T0[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
