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
   * a full snapshot would have seen that change. {@link REMOVED} once the entry left its table.
   */
  touched: number;
}

/** `Entry.touched` of an entry removed from its table: an incremental snapshot skips it in the touched list. @internal */
export const REMOVED = -1;

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
  /**
   * The entries touched since the previous snapshot, each listed once (when its `touched` stamp first changes to the
   * current epoch), so that an incremental checkpoint costs what changed, not what the state holds: it visits only
   * these instead of walking every entry. Entries removed since are stamped {@link REMOVED}. `undefined` when the
   * backend takes full snapshots only.
   */
  touchedEntries: Entry<unknown>[] | undefined;
}

/**
 * Stamps `entry` as touched in `epoch` (`CurrentKey.epoch`), listing it in `table.touchedEntries` the first time in
 * that epoch. @internal
 */
export function touch(table: StateTable, entry: Entry<unknown>, epoch: number): void {
  if (entry.touched === epoch) return;
  entry.touched = epoch;
  table.touchedEntries?.push(entry);
}

/** Adds a new entry, stamped touched in `epoch`, for a key that has none in `table`. @internal */
export function insertEntry<T>(table: StateTable, key: StateKey, keyGroup: number, value: T, epoch: number): void {
  const entry: Entry<T> = { key, keyGroup, value, touched: epoch };
  table.entries.set(key, entry);
  const touched = table.touchedEntries;
  if (touched === undefined) return;
  touched.push(entry);
  // Keys that come and go (a window per key and minute) would otherwise pile up removed entries until the next
  // checkpoint, however long its interval: past twice the live entries, drop them (amortised over as many inserts).
  if (touched.length > 2 * table.entries.size + TOUCHED_SLACK) table.touchedEntries = touched.filter((e) => e.touched !== REMOVED);
}

/** Removed entries a touched list may hold beyond twice the live entries before they are dropped. */
const TOUCHED_SLACK = 4096;

/** Removes `entry` (the entry of its key in `table`) and, when the backend tracks changes, notes the tombstone. @internal */
export function removeEntry(table: StateTable, entry: Entry<unknown>): void {
  table.entries.delete(entry.key);
  if (table.deleted === undefined) return;
  entry.touched = REMOVED;
  table.deleted.set(entry.key, entry.keyGroup);
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
