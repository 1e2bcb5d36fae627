import { SluiceError } from '../errors/index.ts';
import { StateErrorCodes } from './state-errors.ts';
import type { StateKey } from './key-groups.ts';

/** The three kinds of keyed state; written into snapshots, so the strings are part of the format. */
export type StateKind = 'value' | 'map' | 'list';

/**
 * One key's state in one table. The key group is stored with the entry when the key is first inserted, so
 * snapshots can group entries by key group without hashing every key again (1M keys: ~60 ms of hashing saved
 * per checkpoint, and no hashing at all on the record path).
 * @internal
 */
export interface Entry<T> {
  /**
   * The entry's key in its table (the same string or number as the Map's key). Snapshots walk `entries.values()`
   * and take the key from here: a walk of `entries.entries()` allocates a `[key, entry]` array per entry, which at
   * 2M keys made ~100 MB of garbage per checkpoint (measured: 9–10 young-generation collections per walk, against
   * 1–2 for `values()`).
   */
  readonly key: StateKey;
  readonly keyGroup: number;
  value: T;
  /**
   * The backend's snapshot epoch when a handle last read or wrote this key's state (`CurrentKey.epoch`; 0 for state
   * restored from a checkpoint). An incremental checkpoint writes the entries touched since the previous snapshot.
   * Reads count too: a value, map or list got from a handle may be changed in place (the window operator does), and
   * a full snapshot would have seen that change.
   */
  touched: number;
}

/**
 * All entries of one named state of one backend. Values are `T` for value state, `Map<K, V>` for map state and
 * `T[]` for list state. An entry exists only while the key has state, with one exception: a map state keeps the
 * entry of a key whose map was just emptied (see `MapStateHandle`), counted in `emptyMaps` and skipped by
 * snapshots and key counts ({@link hasState}).
 * @internal
 */
export interface StateTable {
  readonly name: string;
  readonly kind: StateKind;
  readonly entries: Map<StateKey, Entry<unknown>>;
  /** Entries of a map state whose map is empty: no state, kept for reuse until swept. */
  emptyMaps: number;
  /**
   * Keys whose entry was removed since the previous snapshot, with their key group: the tombstones of the next
   * incremental checkpoint. `undefined` when the backend takes full snapshots only (nothing to track).
   */
  deleted: Map<StateKey, number> | undefined;
}

/** Records that `key` (of `keyGroup`) lost its entry in `table`, when the backend tracks changes. */
export function noteDeleted(table: StateTable, key: StateKey, keyGroup: number): void {
  table.deleted?.set(key, keyGroup);
}

/** Whether an entry of `table` holds state (an emptied map does not). */
export function hasState(table: StateTable, entry: Entry<unknown>): boolean {
  return table.kind !== 'map' || (entry.value as Map<unknown, unknown>).size > 0;
}

/** The error for a state name used as two kinds (e.g. value and map). @internal */
export function kindMismatch(name: string, existing: StateKind, requested: StateKind): SluiceError {
  return new SluiceError(
    StateErrorCodes.kindMismatch,
    `state "${name}" is ${existing} state and cannot also be used as ${requested} state; ` +
      `give the ${requested} state its own name`,
  );
}

/** Throws when `name` cannot name a state (names are persisted in snapshots). @internal */
export function checkStateName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SluiceError(
      StateErrorCodes.invalidName,
      `state name ${JSON.stringify(name)} is invalid; use a non-empty string that stays the same across versions of the job`,
    );
  }
}
