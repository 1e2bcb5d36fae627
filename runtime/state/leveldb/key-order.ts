import { forEachPackedPair, type PackedPairs } from '../packed-pairs-chunk.ts';

/**
 * Byte order of packed keys, as LevelDB sorts them. A restore holds a delta's keys as latin1 strings (one char per
 * byte), and compares them with the full blob's keys in place, without a string per key of the full blob.
 * @internal
 */

/** Byte order of `bytes[start, end)` against `text`'s bytes (its char codes, each one byte). */
export function compareBytesToText(bytes: Uint8Array, start: number, end: number, text: string): number {
  const n = Math.min(end - start, text.length);
  for (let i = 0; i < n; i++) {
    const d = bytes[start + i]! - text.charCodeAt(i);
    if (d !== 0) return d;
  }
  return end - start - text.length;
}

/** Byte order of `bytes[as, ae)` against `bytes[bs, be)` (then the shorter first), as LevelDB's bytewise comparator. */
export function compareBytes(bytes: Uint8Array, as: number, ae: number, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = bytes[as + i]! - bytes[bs + i]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/**
 * True when each state's keys ascend strictly through `chunks` (a full blob's packed pairs, `stateOf` naming the
 * state of each): what the LevelDB backend writes, scanning its database in key order.
 */
export function packedKeysAscend(chunks: readonly PackedPairs[], stateOf: (chunk: PackedPairs) => number): boolean {
  const last = new Map<number, [number, number]>();
  for (const chunk of chunks) {
    const state = stateOf(chunk);
    let [ps, pe] = last.get(state) ?? [-1, -1];
    let ascending = true;
    forEachPackedPair(chunk, (ks, ke) => {
      if (ascending && ps >= 0 && compareBytes(chunk.bytes, ps, pe, ks, ke) >= 0) ascending = false;
      ps = ks;
      pe = ke;
    });
    if (!ascending) return false;
    last.set(state, [ps, pe]);
  }
  return true;
}

/**
 * Merges a state's full blob — packed pairs ascending by key, chunk after chunk — with changes to it, sorted (latin1
 * strings of packed keys, which sort by char code, i.e. by byte): each base pair is passed to `base` unless a change
 * has its key; each change to `change`, in key order with the base pairs. Call {@link chunk} for each base chunk in
 * order, then {@link rest}.
 * @internal
 */
export class KeyOrderMerge {
  #next = 0;

  constructor(private readonly changed: readonly string[]) {}

  chunk(chunk: PackedPairs, base: (ks: number, ke: number, vs: number, ve: number) => void, change: (key: string) => void): void {
    const changed = this.changed;
    const bytes = chunk.bytes;
    forEachPackedPair(chunk, (ks, ke, vs, ve) => {
      let order = 1;
      // Changed keys below this one are keys the changes add.
      while (this.#next < changed.length && (order = compareBytesToText(bytes, ks, ke, changed[this.#next]!)) > 0) change(changed[this.#next++]!);
      if (this.#next < changed.length && order === 0) change(changed[this.#next++]!);
      else base(ks, ke, vs, ve);
    });
  }

  /** The changes above every base key. */
  rest(change: (key: string) => void): void {
    while (this.#next < this.changed.length) change(this.changed[this.#next++]!);
  }
}
