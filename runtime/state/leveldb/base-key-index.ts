import { forEachPackedPair, type PackedPairs } from '../packed-pairs-chunk.ts';

/**
 * The keys of one state in a chain's full blob, as places of their packed bytes in the blob, for membership tests
 * without a string per key. Only for keys in ascending byte order (the LevelDB backend writes full blobs in its
 * database's order); {@link add} says when they are not, and the caller reads the chain another way.
 * @internal
 */
export class BaseKeyIndex {
  #starts: Int32Array = new Int32Array(1024);
  #ends: Int32Array = new Int32Array(1024);
  #size = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** Adds the chunk's keys; false (ask nothing further) when a key is not above the one before it. */
  add(chunk: PackedPairs): boolean {
    let sorted = true;
    forEachPackedPair(chunk, (ks, ke) => {
      if (!sorted) return;
      const last = this.#size - 1;
      if (last >= 0 && this.#compare(this.#starts[last]!, this.#ends[last]!, ks, ke) >= 0) sorted = false;
      else this.#push(ks, ke);
    });
    return sorted;
  }

  /** True when `key` (a packed key as the latin1 string of its bytes) is among the keys. */
  has(key: string): boolean {
    let low = 0;
    let high = this.#size - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const order = this.#compareText(this.#starts[middle]!, this.#ends[middle]!, key);
      if (order === 0) return true;
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }

  #push(start: number, end: number): void {
    if (this.#size === this.#starts.length) {
      this.#starts = grown(this.#starts);
      this.#ends = grown(this.#ends);
    }
    this.#starts[this.#size] = start;
    this.#ends[this.#size++] = end;
  }

  /** Byte order of `bytes[as, ae)` against `bytes[bs, be)`. */
  #compare(as: number, ae: number, bs: number, be: number): number {
    const bytes = this.bytes;
    const n = Math.min(ae - as, be - bs);
    for (let i = 0; i < n; i++) {
      const d = bytes[as + i]! - bytes[bs + i]!;
      if (d !== 0) return d;
    }
    return ae - as - (be - bs);
  }

  /** Byte order of `bytes[start, end)` against `text`'s bytes (its char codes). */
  #compareText(start: number, end: number, text: string): number {
    const bytes = this.bytes;
    const n = Math.min(end - start, text.length);
    for (let i = 0; i < n; i++) {
      const d = bytes[start + i]! - text.charCodeAt(i);
      if (d !== 0) return d;
    }
    return end - start - text.length;
  }
}

function grown(array: Int32Array): Int32Array {
  const out = new Int32Array(array.length * 2);
  out.set(array);
  return out;
}
