import type { StateKey } from '../key-groups.ts';
import { isStateKey, type PackedStateChunk } from '../keyed-snapshot-format.ts';
import { binLength, binStart, forEachPackedPair } from '../packed-pairs-chunk.ts';
import { badEntry } from '../snapshots/restore-chains.ts';
import type { StateKind } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { TableLoad } from './table-files/table-load.ts';
import type { Chunk } from '../snapshots/chain-parts.ts';
import type { CachedTable } from './cached-table.ts';
import { FoldedChanges } from './folded-changes.ts';
import { KeyOrderMerge, packedKeysAscend } from './key-order.ts';
import { KEY_PREFIX_BYTES, packValue, writeKeyPrefix } from './stored-bytes.ts';

/** Writes between two checks of LevelDB's progress and the clock. */
const WRITES_PER_CHECK = 4096;

/**
 * Writes key groups' end states into the new working database, one key group at a time, each key once, so that
 * LevelDB gets few writes, mostly in key order (it takes them fastest that way: 10M keys sorted ~7 s, shuffled ~27 s):
 * - a full blob alone is copied as it is (each key once per state);
 * - a full blob of packed pairs in key order (as the LevelDB backend writes them) with deltas is merged with the
 *   deltas' changes, sorted: one pass in key order, each key's last value, deleted keys left out;
 * - any other chain is folded per key and written in the order keys first appeared.
 * Packed pairs are copied byte for byte; state chunks (the heap backend's, or the LevelDB backend's from before packed
 * pairs) are re-packed value by value. Each method returns how many keys it wrote: the key group's keys with state.
 * @internal
 */
export class KeyGroupLoader {
  #keyGroup = 0;
  #blob: Buffer = Buffer.alloc(0);
  #writes = 0;

  /** `table` gives the backend's table (and so the state id) of a chunk's state. */
  constructor(
    private readonly load: TableLoad,
    private readonly table: (name: string, kind: StateKind) => CachedTable,
    private readonly slicer: TimeSlicer,
  ) {}

  /** Starts key group `keyGroup`, whose chain is `blob`. */
  begin(keyGroup: number, blob: Uint8Array): void {
    this.#keyGroup = keyGroup;
    this.#blob = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  }

  /** Writes a full blob's pairs as they are. */
  async copy(chunks: readonly Chunk[]): Promise<number> {
    let keys = 0;
    for (const chunk of chunks) {
      const id = this.#stateId(chunk);
      if (chunk.type === 'packed-state') {
        const bytes = chunk.bytes;
        forEachPackedPair(chunk, (ks, ke, vs, ve) => this.#putBytes(id, bytes, ks, ke, bytes, vs, ve));
        keys += chunk.pairs;
      } else if (chunk.type === 'state') {
        for (let j = chunk.from; j < chunk.pairs.length; j += 2) {
          const key = packValue(this.#checkedKey(chunk.name, chunk.pairs[j]));
          const value = packValue(chunk.pairs[j + 1]);
          this.#putBytes(id, key, 0, key.length, value, 0, value.length);
        }
        keys += (chunk.pairs.length - chunk.from) / 2;
      }
      await this.#settle();
    }
    return keys;
  }

  /** True when {@link merge} can take this full blob: packed pairs only, each state's keys ascending. */
  mergeable(base: readonly Chunk[]): base is PackedStateChunk[] {
    if (!base.every((chunk) => chunk.type === 'packed-state')) return false;
    return packedKeysAscend(base as PackedStateChunk[], (chunk) => this.#stateId(chunk as PackedStateChunk));
  }

  /** Merges a full blob of ascending packed pairs with its deltas' changes, sorted, and writes the result in order. */
  async merge(base: readonly PackedStateChunk[], deltas: readonly Chunk[]): Promise<number> {
    const folded = await this.#fold(deltas);
    const baseByState = new Map<string, PackedStateChunk[]>();
    for (const chunk of base) {
      this.#stateId(chunk); // the kind agrees with the deltas' (or this throws)
      (baseByState.get(chunk.name) ?? baseByState.set(chunk.name, []).get(chunk.name)!).push(chunk);
    }
    let keys = 0;
    for (const name of new Set([...baseByState.keys(), ...folded.byState.keys()])) {
      const chunks = baseByState.get(name) ?? [];
      const id = this.#stateId(chunks[0] ?? { name, kind: folded.byState.get(name)!.kind });
      const changes = folded.byState.get(name)?.changes ?? new Map<string, number | null>();
      const merge = new KeyOrderMerge([...changes.keys()].sort());
      const change = (key: string): void => {
        keys += this.#putChange(id, key, changes.get(key)!, folded);
      };
      for (const chunk of chunks) {
        const bytes = chunk.bytes;
        merge.chunk(
          chunk,
          (ks, ke, vs, ve) => {
            this.#putBytes(id, bytes, ks, ke, bytes, vs, ve);
            keys++;
          },
          change,
        );
        await this.#settle();
      }
      merge.rest(change);
      await this.#settle();
    }
    return keys;
  }

  /** Folds a whole chain per key and writes what is left, in the order keys first appeared. */
  async fold(chunks: readonly Chunk[]): Promise<number> {
    const folded = await this.#fold(chunks);
    let keys = 0;
    for (const [name, { kind, changes }] of folded.byState) {
      const id = this.#stateId({ name, kind });
      for (const [text, at] of changes) {
        keys += this.#putChange(id, text, at, folded);
        if (this.#writes % WRITES_PER_CHECK === 0) await this.#settle();
      }
    }
    return keys;
  }

  async #fold(chunks: readonly Chunk[]): Promise<FoldedChanges> {
    const folded = new FoldedChanges(this.#keyGroup, this.#blob);
    for (const chunk of chunks) {
      this.#stateId(chunk); // a kind that disagrees with the state's throws here
      folded.add(chunk);
      await this.slicer.maybeYield();
    }
    return folded;
  }

  /** Writes a folded change (nothing for a delete: the database is new); returns how many keys it wrote. */
  #putChange(stateId: number, text: string, at: number | null, folded: FoldedChanges): number {
    if (at === null) return 0;
    const key = this.load.key(KEY_PREFIX_BYTES + text.length);
    writeKeyPrefix(key, 0, this.#keyGroup, stateId);
    for (let i = 0; i < text.length; i++) key[KEY_PREFIX_BYTES + i] = text.charCodeAt(i);
    const blob = this.#blob;
    // A value in the blob is copied into the scratch array rather than viewed: a view per key costs as much as the put.
    this.load.put(key, at >= 0 ? copied(this.load.value(binLength(blob, at)), blob, binStart(blob, at)) : folded.value(at));
    this.#writes++;
    return 1;
  }

  /** Puts the working-database key of the packed key `keyBytes[ks, ke)` in state `stateId`, = `valueBytes[vs, ve)`. */
  #putBytes(stateId: number, keyBytes: Uint8Array, ks: number, ke: number, valueBytes: Uint8Array, vs: number, ve: number): void {
    this.load.putPacked(this.#keyGroup, stateId, keyBytes, ks, ke, valueBytes, vs, ve);
    this.#writes++;
  }

  async #settle(): Promise<void> {
    await this.load.settle();
    await this.slicer.maybeYield();
  }

  #stateId(chunk: { readonly name: string; readonly kind: StateKind }): number {
    return this.table(chunk.name, chunk.kind).id;
  }

  #checkedKey(name: string, key: unknown): StateKey {
    if (!isStateKey(key)) throw badEntry(this.#keyGroup, name, key);
    return key;
  }
}

/** Fills `target` from `source` at `from`; returns `target`. */
function copied(target: Uint8Array, source: Uint8Array, from: number): Uint8Array {
  if (target.length > 64) target.set(source.subarray(from, from + target.length));
  else for (let i = 0; i < target.length; i++) target[i] = source[from + i]!;
  return target;
}
