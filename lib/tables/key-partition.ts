/**
 * Which partition of a table holds a key: FNV-1a (32-bit) of the key's UTF-8
 * bytes, modulo the table's partition count. Fixed forever for a table (its
 * partition count never changes), identical on every node and release: a
 * change here would move keys between partitions. Pinned by tests.
 */

const encoder = new TextEncoder();

export function partitionOfKey(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
