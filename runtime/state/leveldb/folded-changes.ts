import type { Chunk } from '../snapshots/chain-parts.ts';
import { isStateKey } from '../keyed-snapshot-format.ts';
import { binLength, binStart, forEachPackedPair } from '../packed-pairs-chunk.ts';
import { badEntry } from '../snapshots/restore-chains.ts';
import type { StateKind } from '../state-table.ts';
import { packValue } from './stored-bytes.ts';

/** One state's folded changes: each key to where its last value is (see {@link FoldedChanges}), null if deleted. */
export interface StateChanges {
  readonly kind: StateKind;
  readonly changes: Map<string, number | null>;
}

/**
 * A chain's chunks folded per state and key, the last write winning. Keys are the latin1 strings of their packed
 * bytes (one string per byte sequence; they sort by char code, i.e. in LevelDB's byte order). A value is where the
 * chain holds it — the offset of its bin in the blob — or `-1 - i` for a state chunk's value, re-packed; null for a
 * key a tombstone deleted.
 * @internal
 */
export class FoldedChanges {
  readonly byState = new Map<string, StateChanges>();
  readonly #repacked: Uint8Array[] = [];

  constructor(
    private readonly keyGroup: number,
    private readonly blob: Buffer,
  ) {}

  /**
   * Folds in a chunk of the chain; false when its state was seen with another kind (nothing folded). Throws
   * `SLUICE_STATE_SNAPSHOT_CORRUPT` for a key that cannot be a state key.
   */
  add(chunk: Chunk): boolean {
    const state = this.byState.get(chunk.name) ?? this.byState.set(chunk.name, { kind: chunk.kind, changes: new Map() }).get(chunk.name)!;
    if (state.kind !== chunk.kind) return false;
    const keys = state.changes;
    if (chunk.type === 'packed-state') {
      const blob = this.blob;
      // The value's bin starts where the key's ends.
      forEachPackedPair(chunk, (ks, ke) => keys.set(blob.toString('latin1', ks, ke), ke));
    } else if (chunk.type === 'state') {
      for (let j = chunk.from; j < chunk.pairs.length; j += 2) keys.set(this.#keyText(chunk.name, chunk.pairs[j]), -this.#repacked.push(packValue(chunk.pairs[j + 1])));
    } else {
      for (let j = chunk.from; j < chunk.keys.length; j++) keys.set(this.#keyText(chunk.name, chunk.keys[j]), null);
    }
    return true;
  }

  /** The bytes of the value at `at` (not null): a view of the blob, or a re-packed value. */
  value(at: number): Uint8Array {
    if (at < 0) return this.#repacked[-at - 1]!;
    const from = binStart(this.blob, at);
    return this.blob.subarray(from, from + binLength(this.blob, at));
  }

  /** A decoded key as the latin1 string of its packed bytes. */
  #keyText(name: string, key: unknown): string {
    if (!isStateKey(key)) throw badEntry(this.keyGroup, name, key);
    const packed = packValue(key);
    return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength).toString('latin1');
  }
}
