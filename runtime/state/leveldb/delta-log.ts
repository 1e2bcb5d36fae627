import type { ChainStats } from '../snapshots/backend-state.ts';
import { HARD_DELTA_RATIO } from '../snapshots/chain-policy.ts';

/** Log page size: records are appended to pages of this size (or one record's size, when larger). */
const PAGE_BYTES = 64 * 1024;

/**
 * The changes written back since the previous snapshot, per key group, in the order they were written: the next
 * incremental checkpoint's deltas, without reading anything back. A key written back twice appears twice; the later
 * one wins on restore.
 *
 * Stored as bytes, records `[state id: u16][has value: u8][key length: u32][packed key][value length: u32][packed
 * value]` in 64 KiB pages: as objects (a record and two buffers each) a change cost ~250 bytes (measured: 651 MiB
 * peak RSS at 0.5M keys), and one buffer per key group grown by doubling left the allocator's heap fragmented.
 *
 * Bounded per key group: a key group's log only has to hold what a delta may hold before the chain policy rebases
 * the key group anyway ({@link HARD_DELTA_RATIO} × its base, less the deltas it has: bound `'chain'`); past that —
 * and for key groups with no chain, which are written in full regardless — nothing is logged and the next snapshot
 * writes the key group in full ('overflowed'). A backend that leaves rebasing to the checkpoint coordinator does not
 * know its chains as compacted, so its bound is per interval (`'interval'`: {@link HARD_DELTA_RATIO} × the base, the
 * point past which one delta outweighs a full blob). So the log stays within a few times the state's checkpointed
 * size, however long the interval between checkpoints.
 * @internal
 */
export class DeltaLog {
  readonly #start: number;
  readonly #pages: (Uint8Array[] | undefined)[];
  readonly #used: Uint32Array; // bytes used in each key group's last page
  readonly #bytes: Float64Array; // bytes logged per key group
  readonly #limits: Float64Array;
  readonly #overflowed: Uint8Array;
  readonly #bound: 'chain' | 'interval';

  /** A log for the key groups `start` … `start + keyGroups - 1`; every key group starts without a chain (overflowed). */
  constructor(start: number, keyGroups: number, bound: 'chain' | 'interval' = 'chain') {
    this.#start = start;
    this.#bound = bound;
    this.#pages = new Array<Uint8Array[] | undefined>(keyGroups);
    this.#used = new Uint32Array(keyGroups);
    this.#bytes = new Float64Array(keyGroups);
    this.#limits = new Float64Array(keyGroups);
    this.#overflowed = new Uint8Array(keyGroups).fill(1);
  }

  /** Sets each key group's bound from the chains the next delta would extend (after a snapshot or a restore). */
  bound(chains: ReadonlyMap<number, ChainStats>): void {
    for (let i = 0; i < this.#limits.length; i++) {
      const stats = chains.get(this.#start + i);
      const spent = this.#bound === 'chain' ? (stats?.deltaBytes ?? 0) : 0;
      this.#limits[i] = stats === undefined ? 0 : Math.max(0, HARD_DELTA_RATIO * stats.baseBytes - spent);
      this.#overflowed[i] = stats === undefined ? 1 : 0;
    }
  }

  /** Drops every logged change, as if every key group had overflowed (the backend is closing). */
  clear(): void {
    this.#pages.fill(undefined);
    this.#bytes.fill(0);
    this.#used.fill(0);
    this.#overflowed.fill(1);
  }

  /** Whether key group slot `index` will be written in full at the next snapshot (no chain, or its log overflowed). */
  overflowed(index: number): boolean {
    return this.#overflowed[index] === 1;
  }

  add(index: number, stateId: number, packedKey: Uint8Array, value: Uint8Array | undefined): void {
    if (this.#overflowed[index] === 1) return;
    const need = 11 + packedKey.length + (value?.length ?? 0);
    if (this.#bytes[index]! + need > this.#limits[index]!) {
      this.#overflowed[index] = 1;
      this.#pages[index] = undefined;
      this.#bytes[index] = 0;
      return;
    }
    let pages = this.#pages[index];
    let page = pages?.[pages.length - 1];
    let o = this.#used[index]!;
    if (pages === undefined || page === undefined || o + need > page.length) {
      if (pages !== undefined && page !== undefined) pages[pages.length - 1] = page.subarray(0, o); // a full page: its records
      page = new Uint8Array(Math.max(PAGE_BYTES, need));
      (pages ??= this.#pages[index] = []).push(page);
      o = 0;
    }
    page[o++] = stateId >>> 8;
    page[o++] = stateId & 0xff;
    page[o++] = value === undefined ? 0 : 1;
    o = writeU32(page, o, packedKey.length);
    page.set(packedKey, o);
    o += packedKey.length;
    o = writeU32(page, o, value?.length ?? 0);
    if (value !== undefined) {
      page.set(value, o);
      o += value.length;
    }
    this.#used[index] = o;
    this.#bytes[index]! += need;
  }

  /**
   * The changes of key group slot `index` in the order they were added, or 'overflowed' when the key group must be
   * written in full; the slot starts empty again (its bound stays until {@link bound}).
   */
  take(index: number): LoggedChanges | 'overflowed' | undefined {
    const pages = this.#pages[index];
    const used = this.#used[index]!;
    this.#pages[index] = undefined;
    this.#bytes[index] = 0;
    this.#used[index] = 0;
    if (this.#overflowed[index] === 1) return 'overflowed';
    if (pages === undefined) return undefined;
    pages[pages.length - 1] = pages[pages.length - 1]!.subarray(0, used);
    return new LoggedChanges(pages);
  }
}

/** One key group's logged changes, read in order: pages holding whole records. @internal */
export class LoggedChanges {
  constructor(readonly pages: readonly Uint8Array[]) {}

  /** Calls `fn` for each change; `value` undefined is a deletion. The arrays are views into the log. */
  forEach(fn: (stateId: number, packedKey: Uint8Array, value: Uint8Array | undefined) => void): void {
    for (const b of this.pages) {
      let o = 0;
      while (o < b.length) {
        const stateId = (b[o]! << 8) | b[o + 1]!;
        const hasValue = b[o + 2] === 1;
        const keyLength = readU32(b, o + 3);
        const key = b.subarray(o + 7, o + 7 + keyLength);
        o += 7 + keyLength;
        const valueLength = readU32(b, o);
        o += 4;
        fn(stateId, key, hasValue ? b.subarray(o, o + valueLength) : undefined);
        o += valueLength;
      }
    }
  }
}

function writeU32(b: Uint8Array, o: number, n: number): number {
  b[o] = n >>> 24;
  b[o + 1] = (n >>> 16) & 0xff;
  b[o + 2] = (n >>> 8) & 0xff;
  b[o + 3] = n & 0xff;
  return o + 4;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}
