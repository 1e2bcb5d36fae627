/**
 * The filter block of a LevelDB table, as LevelDB's own `FilterBlockBuilder` with `NewBloomFilterPolicy(10)` (the
 * policy classic-level opens every database with) writes it: one Bloom filter per 2 KiB of file offset, over the
 * user keys of the data blocks that start in that range. A table without one would still be read correctly, but each
 * lookup of a key it does not hold would then read a data block instead of probing a filter.
 * @internal
 */

/** Name under which the metaindex block points at the filter block (`filter.` + the policy's name). */
export const FILTER_META_KEY = 'filter.leveldb.BuiltinBloomFilter2';

const BASE_LG = 11;
const BITS_PER_KEY = 10;
/** Probes per key: bits per key × ln 2, rounded down, as LevelDB does. */
const PROBES = Math.floor(BITS_PER_KEY * 0.69);

/** LevelDB's `Hash` (util/hash.cc), murmur-like, over `bytes[from, to)`. */
export function leveldbHash(bytes: Uint8Array, from: number, to: number, seed: number): number {
  const m = 0xc6a4a793;
  let h = (seed ^ Math.imul(to - from, m)) >>> 0;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const w = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    h = Math.imul((h + w) >>> 0, m) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  const rest = to - i;
  if (rest > 0) {
    if (rest === 3) h = (h + (bytes[i + 2]! << 16)) >>> 0;
    if (rest >= 2) h = (h + (bytes[i + 1]! << 8)) >>> 0;
    h = (h + bytes[i]!) >>> 0;
    h = Math.imul(h, m) >>> 0;
    h = (h ^ (h >>> 24)) >>> 0;
  }
  return h;
}

/** Builds one table's filter block: {@link addKey} for each key, {@link startBlock} at each data block's offset. */
export class BloomFilterBlock {
  /** Hashes of the keys since the last filter was generated. */
  #hashes: number[] = [];
  readonly #filters: Uint8Array[] = [];
  readonly #offsets: number[] = [];
  #size = 0;

  /** Adds the user key `bytes[from, to)` to the filter of the current data block. */
  addKey(bytes: Uint8Array, from: number, to: number): void {
    this.#hashes.push(leveldbHash(bytes, from, to, 0xbc9f1d34));
  }

  /** Called when a data block starts at `offset` (the table's first at 0): closes filters up to it. */
  startBlock(offset: number): void {
    const index = Math.floor(offset / (1 << BASE_LG));
    while (index > this.#offsets.length) this.#generate();
  }

  /** The block's contents: the filters, their offsets, the offset of those, and the base's log. */
  finish(): Uint8Array {
    if (this.#hashes.length > 0) this.#generate();
    const out = new Uint8Array(this.#size + 4 * this.#offsets.length + 5);
    let at = 0;
    for (const filter of this.#filters) {
      out.set(filter, at);
      at += filter.length;
    }
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (const offset of this.#offsets) {
      view.setUint32(at, offset, true);
      at += 4;
    }
    view.setUint32(at, this.#size, true);
    out[at + 4] = BASE_LG;
    return out;
  }

  #generate(): void {
    this.#offsets.push(this.#size);
    const n = this.#hashes.length;
    if (n === 0) return;
    const bytes = Math.ceil(Math.max(64, n * BITS_PER_KEY) / 8);
    const bits = bytes * 8;
    const filter = new Uint8Array(bytes + 1);
    for (const hash of this.#hashes) {
      let h = hash;
      const delta = ((h >>> 17) | (h << 15)) >>> 0;
      for (let j = 0; j < PROBES; j++) {
        const bit = h - Math.floor(h / bits) * bits; // h % bits, without V8's slow modulo of doubles (h ≥ 2^31)
        filter[bit >>> 3]! |= 1 << (bit & 7);
        h = (h + delta) >>> 0;
      }
    }
    filter[bytes] = PROBES;
    this.#filters.push(filter);
    this.#size += filter.length;
    this.#hashes = [];
  }
}
