/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby's `MurmurHash3_x86_32`), the hash behind key groups.
 *
 * The output is part of the persisted state format: a key's key group decides which snapshot blob holds its state,
 * so this function must never change. Tests pin it to the published SMHasher vectors.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * Hash `bytes` with MurmurHash3 x86_32; returns an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * murmur3_32(new TextEncoder().encode('Hello, world!'), 0x9747b28c); // 0x24884cba
 * ```
 */
export function murmur3_32(bytes: Uint8Array, seed = 0): number {
  const len = bytes.length;
  const blocks = len & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < blocks; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = mixBlock(h, k);
  }
  const tail = len & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[i + 2]! << 16;
    if (tail >= 2) k ^= bytes[i + 1]! << 8;
    k ^= bytes[i]!;
    h ^= mixK(k);
  }
  return finalize(h, len);
}

const encoder = new TextEncoder();

/** What {@link murmur3String} returns for a string that has no UTF-8 form (an unpaired surrogate). */
export const NO_UTF8 = -1;

/**
 * `murmur3_32(utf8(s), 0)` without allocating for ASCII strings: the common key shapes (ids, words) are hashed
 * straight from their char codes. A string with any non-ASCII char is UTF-8 encoded first (rare, and correct).
 * A string with an unpaired surrogate has no UTF-8 form (an encoder would hash U+FFFD in its place, the same for
 * every such string): it hashes to {@link NO_UTF8}, found where it costs nothing, on the non-ASCII path.
 *
 * Why not always encode: `TextEncoder.encode` allocates a Uint8Array per call; key groups are computed once per new
 * key, and keys arriving from Kafka are mostly fresh, so the allocation would be paid on every new key.
 */
export function murmur3String(s: string): number {
  const len = s.length;
  const blocks = len & ~3;
  let h = 0;
  let i = 0;
  for (; i < blocks; i += 4) {
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) > 0x7f) return murmur3Utf8(s);
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
  }
  const tail = len & 3;
  if (tail !== 0) {
    let k = 0;
    for (let j = tail - 1; j >= 0; j--) {
      const c = s.charCodeAt(i + j);
      if (c > 0x7f) return murmur3Utf8(s);
      k ^= c << (8 * j);
    }
    h ^= mixK(k);
  }
  return finalize(h, len);
}

function murmur3Utf8(s: string): number {
  return s.isWellFormed() ? murmur3_32(encoder.encode(s)) : NO_UTF8;
}

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixBlock(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
