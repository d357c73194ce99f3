/**
 * Which partition a key lands in: FNV-1a (32-bit) over the key's UTF-8 bytes, modulo the
 * partition count. Stable across processes and versions: changing it would move keys between
 * partitions and break per-key order, so it is part of the on-disk contract.
 */
const encoder = new TextEncoder();

export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  // ASCII fast path: most keys are ids; other keys go through their UTF-8 bytes.
  let ascii = true;
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index);
    if (code > 0x7f) {
      ascii = false;
      break;
    }
    hash = Math.imul(hash ^ code, 0x01000193);
  }
  if (ascii) return hash >>> 0;
  hash = 0x811c9dc5;
  for (const byte of encoder.encode(key)) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

export function partitionForKey(key: string, partitions: number): number {
  return hashKey(key) % partitions;
}
