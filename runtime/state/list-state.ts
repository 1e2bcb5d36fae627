import type { CurrentKey } from './current-key.ts';
import type { StateKey } from './key-groups.ts';
import { insertEntry, removeEntry, touch, type Entry, type StateTable } from './state-table.ts';

/**
 * A list per key. Every call applies to the executor's current key.
 *
 * @example
 * ```ts
 * const recent = state.getListState<Event>('recent');
 * recent.add(event);
 * if (recent.get().length > 10) recent.update(recent.get().slice(-10));
 * ```
 */
export interface ListState<T> {
  /** The current key's list (empty when it has none). A live, read-only view: copy it to keep it past `add`. */
  get(): readonly T[];
  add(v: T): void;
  addAll(vs: readonly T[]): void;
  /** Replaces the current key's list with a copy of `vs`; an empty `vs` clears it. */
  update(vs: readonly T[]): void;
  clear(): void;
}

const EMPTY_LIST: readonly never[] = Object.freeze([]);

/** @internal */
export class ListStateHandle<T> implements ListState<T> {
  readonly #name: string;
  readonly #current: CurrentKey;
  readonly #table: StateTable;
  readonly #entries: Map<StateKey, Entry<T[]>>;

  constructor(name: string, current: CurrentKey, table: StateTable) {
    this.#name = name;
    this.#current = current;
    this.#table = table;
    this.#entries = table.entries as Map<StateKey, Entry<T[]>>;
  }

  get(): readonly T[] {
    const entry = this.#entries.get(this.#key());
    if (entry === undefined) return EMPTY_LIST;
    touch(this.#table, entry, this.#current.epoch); // its elements may be changed in place
    return entry.value;
  }

  add(v: T): void {
    const key = this.#key();
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value.push(v);
      touch(this.#table, entry, this.#current.epoch);
    } else {
      insertEntry(this.#table, key, this.#current.keyGroup(), [v], this.#current.epoch);
    }
  }

  addAll(vs: readonly T[]): void {
    if (vs.length === 0) return;
    const key = this.#key();
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      insertEntry(this.#table, key, this.#current.keyGroup(), vs.slice(), this.#current.epoch);
      return;
    }
    // A loop, not push(...vs): spreading a large array overflows the call stack.
    const list = entry.value;
    for (let i = 0; i < vs.length; i++) list.push(vs[i]!);
    touch(this.#table, entry, this.#current.epoch);
  }

  update(vs: readonly T[]): void {
    const key = this.#key();
    if (vs.length === 0) {
      this.#delete(key);
      return;
    }
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value = vs.slice();
      touch(this.#table, entry, this.#current.epoch);
    } else {
      insertEntry(this.#table, key, this.#current.keyGroup(), vs.slice(), this.#current.epoch);
    }
  }

  clear(): void {
    this.#delete(this.#key());
  }

  #key(): StateKey {
    return this.#current.key ?? this.#current.require(this.#name);
  }

  #delete(key: StateKey): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) removeEntry(this.#table, entry);
  }
}
