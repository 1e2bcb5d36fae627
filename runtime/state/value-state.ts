import type { CurrentKey } from './current-key.ts';
import type { StateKey } from './key-groups.ts';
import { insertEntry, removeEntry, touch, type Entry, type StateTable } from './state-table.ts';

/**
 * A single value per key. Every call applies to the executor's current key.
 *
 * @example
 * ```ts
 * const count = state.getValueState<number>('count');
 * count.update((count.value() ?? 0) + 1);
 * ```
 */
export interface ValueState<T> {
  /** The current key's value, or `undefined` when it has none. */
  value(): T | undefined;
  /** Sets the current key's value; `update(undefined)` is the same as `clear()`. */
  update(value: T): void;
  /** Removes the current key's value. */
  clear(): void;
}

/** @internal */
export class ValueStateHandle<T> implements ValueState<T> {
  readonly #name: string;
  readonly #current: CurrentKey;
  readonly #table: StateTable;
  readonly #entries: Map<StateKey, Entry<T>>;

  constructor(name: string, current: CurrentKey, table: StateTable) {
    this.#name = name;
    this.#current = current;
    this.#table = table;
    this.#entries = table.entries as Map<StateKey, Entry<T>>;
  }

  value(): T | undefined {
    const key = this.#current.key ?? this.#current.require(this.#name);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const value = entry.value;
    // An object may be changed in place: the next incremental snapshot writes it (a primitive cannot change).
    if (typeof value === 'object' && value !== null) touch(this.#table, entry, this.#current.epoch);
    return value;
  }

  update(value: T): void {
    const key = this.#current.key ?? this.#current.require(this.#name);
    if (value === undefined) {
      this.#delete(key);
      return;
    }
    // Existing key: one Map.get and a field write, cheaper than Map.set (no rehash of a fresh string key on insert).
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value = value;
      touch(this.#table, entry, this.#current.epoch);
    } else {
      insertEntry(this.#table, key, this.#current.keyGroup(), value, this.#current.epoch);
    }
  }

  clear(): void {
    this.#delete(this.#current.key ?? this.#current.require(this.#name));
  }

  #delete(key: StateKey): void {
    const table = this.#table;
    if (table.deleted === undefined) {
      this.#entries.delete(key);
      return;
    }
    const entry = this.#entries.get(key);
    if (entry !== undefined) removeEntry(table, entry);
  }
}
