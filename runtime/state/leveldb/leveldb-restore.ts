import type { StateKey } from '../key-groups.ts';
import { decodeKeyGroupBlob, isStateKey, type DecodedChunk, type PackedStateChunk } from '../keyed-snapshot-format.ts';
import { binLength, binStart, forEachPackedPair } from '../packed-pairs-chunk.ts';
import type { ChainStats } from '../snapshots/backend-state.ts';
import { badEntry, restoreTimers, type TimerChunk } from '../snapshots/restore-chains.ts';
import type { StateKind } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { CachedTable } from './cached-table.ts';
import type { StoredState } from './leveldb-snapshot.ts';
import { BaseKeyIndex } from './base-key-index.ts';
import type { BulkLoad } from './bulk-load.ts';
import { KEY_PREFIX_BYTES, packValue } from './stored-bytes.ts';

/** Writes between two checks of the queue and the clock. */
const WRITES_PER_CHECK = 4096;

/** A chunk that holds state: pairs, packed or decoded, or tombstones. */
type Chunk = Extract<DecodedChunk, { type: 'state' | 'tombstones' }> | PackedStateChunk;

/**
 * Loads key groups from snapshot blobs or chains into the working database and the heap timer queues, skipping key
 * groups outside the range, and counts each key group's keys into `state.live`. Returns each chain's shape, for the
 * next incremental snapshot.
 *
 * The working database starts empty and nothing reads it yet, so the restore bulk-loads it, one key group after
 * another (LevelDB takes writes fastest in key order: 10M keys sorted ~7 s, shuffled ~27 s):
 * - a full blob is copied as it is (the LevelDB backend wrote it in key order; each key once per state);
 * - a chain's deltas are folded per key first (the last write wins), so a key overwritten on the way is written once
 *   and a key added and deleted again not at all; when the full blob is packed pairs in key order, it is copied and
 *   only the deltas folded, its keys found by binary search (whether a delete removes a key, whether a write adds
 *   one); otherwise the whole chain is folded.
 * Packed-pairs chunks are copied byte for byte; state chunks (the heap backend's, or the LevelDB backend's before
 * packed pairs existed) are re-packed value by value.
 * @internal
 */
export async function restoreStoredChains(
  state: StoredState,
  table: (name: string, kind: StateKind) => CachedTable,
  keyGroups: Iterable<[number, Uint8Array]>,
  slicer: TimeSlicer,
): Promise<Map<number, ChainStats>> {
  const chains = new Map<number, ChainStats>();
  const { start, end } = state.range;
  await state.store.drain();
  const load = state.store.bulkLoad();
  const restorer = new KeyGroupWriter(load, slicer);
  for (const [keyGroup, blob] of keyGroups) {
    if (keyGroup < start || keyGroup > end) continue;
    let segments = 0;
    let baseBytes = blob.length;
    let timers: TimerChunk[] = [];
    const base: Chunk[] = [];
    const deltas: Chunk[] = [];
    for (const chunk of decodeKeyGroupBlob(keyGroup, blob, { packed: true })) {
      switch (chunk.type) {
        case 'segment':
          if (++segments === 2) baseBytes = chunk.offset;
          break;
        case 'timer-reset':
          timers = [];
          break;
        case 'timers':
          timers.push(chunk);
          break;
        default:
          (segments === 1 ? base : deltas).push(chunk);
      }
      await slicer.maybeYield();
    }
    restorer.begin(keyGroup, blob);
    let live: number;
    if (deltas.length === 0) {
      live = await restorer.copy(base, table);
    } else {
      const index = restorer.indexOf(base, table);
      live = index === undefined ? await restorer.fold([...base, ...deltas], table) : (await restorer.copy(base, table)) + (await restorer.fold(deltas, table, index));
    }
    state.live[keyGroup - start]! += live;
    restoreTimers(state, keyGroup, timers);
    chains.set(keyGroup, { baseBytes, deltaBytes: blob.length - baseBytes, length: segments });
  }
  await load.finish();
  return chains;
}

/** Writes one key group's state at a time into the working database. */
class KeyGroupWriter {
  #keyGroup = 0;
  #blob: Buffer = Buffer.alloc(0);
  #writes = 0;

  constructor(
    private readonly load: BulkLoad,
    private readonly slicer: TimeSlicer,
  ) {}

  begin(keyGroup: number, blob: Uint8Array): void {
    this.#keyGroup = keyGroup;
    this.#blob = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  }

  /** Writes a full blob's pairs as they are (each key once per state); returns how many keys it wrote. */
  async copy(chunks: readonly Chunk[], table: (name: string, kind: StateKind) => CachedTable): Promise<number> {
    let keys = 0;
    for (const chunk of chunks) {
      const id = table(chunk.name, chunk.kind).id;
      if (chunk.type === 'packed-state') {
        const bytes = chunk.bytes;
        forEachPackedPair(chunk, (ks, ke, vs, ve) => this.#put(id, bytes, ks, ke, bytes, vs, ve));
        keys += chunk.pairs;
      } else if (chunk.type === 'state') {
        for (let j = chunk.from; j < chunk.pairs.length; j += 2) {
          const key = packValue(this.#checkedKey(chunk.name, chunk.pairs[j]));
          const value = packValue(chunk.pairs[j + 1]);
          this.#put(id, key, 0, key.length, value, 0, value.length);
        }
        keys += (chunk.pairs.length - chunk.from) / 2;
      }
      await this.#settle();
    }
    return keys;
  }

  /**
   * An index of the full blob's keys per state id, when all of them are packed pairs in byte order (as the LevelDB
   * backend writes them); otherwise undefined.
   */
  indexOf(base: readonly Chunk[], table: (name: string, kind: StateKind) => CachedTable): Map<number, BaseKeyIndex> | undefined {
    const index = new Map<number, BaseKeyIndex>();
    for (const chunk of base) {
      if (chunk.type !== 'packed-state') return undefined;
      const id = table(chunk.name, chunk.kind).id;
      const keys = index.get(id) ?? index.set(id, new BaseKeyIndex(chunk.bytes)).get(id)!;
      if (!keys.add(chunk)) return undefined;
    }
    return index;
  }

  /**
   * Folds chunks per key (the last write wins) and writes what is left. Without `base`, the chunks are a whole chain
   * and the result is how many keys it leaves. With `base`, the index of a full blob already copied, the chunks are
   * its deltas: a key they delete is deleted if the full blob has it, and the result is how many keys they add (less
   * those they delete). Keys are the latin1 strings of their packed bytes (one string per byte sequence); values
   * where the blob holds them (the offset of their bin), re-packed values of state chunks (`-1 - index` in
   * `repacked`), or null for a tombstone.
   */
  async fold(chunks: readonly Chunk[], table: (name: string, kind: StateKind) => CachedTable, base?: ReadonlyMap<number, BaseKeyIndex>): Promise<number> {
    const folded = new Map<number, Map<string, number | null>>();
    const repacked: Uint8Array[] = [];
    const blob = this.#blob;
    for (const chunk of chunks) {
      const id = table(chunk.name, chunk.kind).id;
      const keys = folded.get(id) ?? folded.set(id, new Map()).get(id)!;
      if (chunk.type === 'packed-state') {
        // The value's bin starts where the key's ends.
        forEachPackedPair(chunk, (ks, ke) => keys.set(blob.toString('latin1', ks, ke), ke));
      } else if (chunk.type === 'state') {
        for (let j = chunk.from; j < chunk.pairs.length; j += 2) keys.set(this.#keyText(chunk.name, chunk.pairs[j]), -repacked.push(packValue(chunk.pairs[j + 1])));
      } else {
        for (let j = chunk.from; j < chunk.keys.length; j++) keys.set(this.#keyText(chunk.name, chunk.keys[j]), null);
      }
      await this.slicer.maybeYield();
    }
    let live = 0;
    for (const [id, keys] of folded) {
      const inBase = base?.get(id);
      for (const [text, at] of keys) {
        const existed = inBase?.has(text) === true;
        if (at === null && !existed) continue;
        const key = this.load.key(KEY_PREFIX_BYTES + text.length);
        writePrefix(key, this.#keyGroup, id);
        for (let i = 0; i < text.length; i++) key[KEY_PREFIX_BYTES + i] = text.charCodeAt(i);
        if (at === null) {
          this.load.del(key);
          live--;
        } else {
          if (!existed) live++;
          this.load.put(key, at >= 0 ? copied(this.load.value(binLength(blob, at)), blob, binStart(blob, at)) : repacked[-at - 1]!);
        }
        if (++this.#writes % WRITES_PER_CHECK === 0) await this.#settle();
      }
    }
    return live;
  }

  /** Puts the working-database key of the packed key `keyBytes[ks, ke)` in state `stateId`, = `valueBytes[vs, ve)`. */
  #put(stateId: number, keyBytes: Uint8Array, ks: number, ke: number, valueBytes: Uint8Array, vs: number, ve: number): void {
    const key = this.load.key(KEY_PREFIX_BYTES + ke - ks);
    writePrefix(key, this.#keyGroup, stateId);
    for (let i = ks; i < ke; i++) key[KEY_PREFIX_BYTES + i - ks] = keyBytes[i]!;
    this.load.put(key, copied(this.load.value(ve - vs), valueBytes, vs));
  }

  async #settle(): Promise<void> {
    await this.load.settle();
    await this.slicer.maybeYield();
  }

  #checkedKey(name: string, key: unknown): StateKey {
    if (!isStateKey(key)) throw badEntry(this.#keyGroup, name, key);
    return key;
  }

  /** A decoded key as the latin1 string of its packed bytes (what {@link fold} keys packed pairs by). */
  #keyText(name: string, key: unknown): string {
    const packed = packValue(this.#checkedKey(name, key));
    return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength).toString('latin1');
  }
}

/** The `[key group: u16][state id: u16]` prefix of a working-database key (see `storedKey`). */
function writePrefix(key: Uint8Array, keyGroup: number, stateId: number): void {
  key[0] = keyGroup >>> 8;
  key[1] = keyGroup & 0xff;
  key[2] = stateId >>> 8;
  key[3] = stateId & 0xff;
}

/** Fills `target` from `source` at `from`; returns `target`. */
function copied(target: Uint8Array, source: Uint8Array, from: number): Uint8Array {
  if (target.length > 64) target.set(source.subarray(from, from + target.length));
  else for (let i = 0; i < target.length; i++) target[i] = source[from + i]!;
  return target;
}
