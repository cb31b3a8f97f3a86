/**
 * The score of rendezvous hashing: a fixed 53-bit hash of a (partition, node)
 * pair. Every node of a cluster must compute the same score for the same pair,
 * or they disagree about where a partition lives, so this function is part of
 * the cluster's contract: changing it moves partitions on an upgrade. Its
 * output is pinned by known-answer tests (test/unit/placement.test.ts).
 *
 * Definition:
 *
 *   bytes  = UTF-8(partition) ++ [0xff] ++ UTF-8(node)
 *   h      = FNV-1a 64 over bytes (offset 0xcbf29ce484222325, prime 0x100000001b3)
 *   (hi, lo) = the high and low 32 bits of h
 *   lo'    = fmix32(lo xor (hi * 0x9e3779b9 mod 2^32))
 *   hi'    = fmix32(hi xor lo')
 *   score  = hi' * 2^21 + floor(lo' / 2^11)        (an integer in [0, 2^53))
 *
 * where fmix32 is MurmurHash3's 32-bit finalizer. 0xff never occurs in UTF-8,
 * so the separator keeps ("ab", "c") and ("a", "bc") apart. FNV-1a alone mixes
 * its last bytes poorly (node names often differ only in a final digit), hence
 * the finalizer, in which every output bit depends on every bit of h. The
 * score fits a double exactly, so scores compare as plain numbers.
 *
 * Strings are encoded code point by code point; a lone surrogate is encoded
 * as its three-byte form (WTF-8) rather than replaced, so distinct strings
 * stay distinct. Arithmetic is done in 32-bit lanes (Math.imul), not BigInt,
 * because placement scores every (partition, up member) pair on every change.
 */

/** FNV-1a 64 offset basis, high and low 32 bits. */
const FNV64_OFFSET_HI = 0xcbf29ce4;
const FNV64_OFFSET_LO = 0x84222325;
/** FNV 64 prime is 2^40 + 0x1b3: the low part, and the shift of the high part within the high lane. */
const FNV64_PRIME_LO = 0x1b3;
const FNV64_PRIME_HI_SHIFT = 8;
const TWO_32 = 0x1_0000_0000;
/** Never a byte of UTF-8: separates the partition from the node. */
const SEPARATOR = 0xff;
/** Golden-ratio constant that folds the high lane into the low one before the finalizer. */
const FOLD = 0x9e3779b9;

/** UTF-8 bytes of `s` (WTF-8 for lone surrogates). */
export function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

/** A 64-bit FNV-1a state as two unsigned 32-bit lanes. */
export interface Fnv64 {
  hi: number;
  lo: number;
}

export const FNV64_OFFSET: Readonly<Fnv64> = Object.freeze({ hi: FNV64_OFFSET_HI, lo: FNV64_OFFSET_LO });

/** The FNV-1a 64 state after feeding `bytes` to `state` (a new object; `state` is not changed). */
export function fnv1a64(bytes: readonly number[], state: Readonly<Fnv64> = FNV64_OFFSET): Fnv64 {
  let { hi, lo } = state;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    // (hi * 2^32 + lo) * (2^40 + 0x1b3) mod 2^64: lo * 0x1b3 < 2^41 is exact in a double.
    const low = lo * FNV64_PRIME_LO;
    hi = (Math.imul(hi, FNV64_PRIME_LO) + (lo << FNV64_PRIME_HI_SHIFT) + Math.floor(low / TWO_32)) >>> 0;
    lo = low >>> 0;
  }
  return { hi, lo };
}

/** MurmurHash3's 32-bit finalizer (avalanche: each output bit depends on every input bit). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 53-bit score of a finished FNV-1a 64 state (see the definition above). */
export function finishScore(h: Readonly<Fnv64>): number {
  const lo = fmix32((h.lo ^ Math.imul(h.hi, FOLD)) >>> 0);
  const hi = fmix32((h.hi ^ lo) >>> 0);
  return hi * 2 ** 21 + Math.floor(lo / 2 ** 11);
}

/** The FNV state after the partition and the separator: every node's score continues from it. */
export function partitionPrefix(partition: string): Fnv64 {
  return fnv1a64([...utf8Bytes(partition), SEPARATOR]);
}

/** The rendezvous score of `node` for `partition`: higher wins. */
export function rendezvousScore(partition: string, node: string): number {
  return finishScore(fnv1a64(utf8Bytes(node), partitionPrefix(partition)));
}
