/**
 * CRC-32C (Castagnoli, polynomial 0x82F63B78 reflected), as used by iSCSI, ext4 and Kafka's
 * record batches. Slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per step,
 * which is what makes a pure-JavaScript checksum fast enough for the append path.
 */
const POLYNOMIAL = 0x82f63b78;
const TABLES = buildTables();

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const first = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    first[n] = c >>> 0;
  }
  tables.push(first);
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1]!;
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      const value = previous[n]!;
      table[n] = ((value >>> 8) ^ first[value & 0xff]!) >>> 0;
    }
    tables.push(table);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/** Continues a CRC-32C over `bytes[start, end)`; pass the previous result as `crc` (0 to begin). */
export function crc32c(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  let i = start;
  const end8 = end - ((end - start) & 7);
  while (i < end8) {
    const a =
      (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>>
      0;
    c =
      T7[a & 0xff]! ^
      T6[(a >>> 8) & 0xff]! ^
      T5[(a >>> 16) & 0xff]! ^
      T4[a >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = T0[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
