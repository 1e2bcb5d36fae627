import type { CurrentKey } from './current-key.ts';
import type { StateKey } from './key-groups.ts';
import type { Entry } from './state-table.ts';

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
  readonly #entries: Map<StateKey, Entry<T>>;

  constructor(name: string, current: CurrentKey, entries: Map<StateKey, Entry<unknown>>) {
    this.#name = name;
    this.#current = current;
    this.#entries = entries as Map<StateKey, Entry<T>>;
  }

  value(): T | undefined {
    const key = this.#current.key ?? this.#current.require(this.#name);
    const entry = this.#entries.get(key);
    return entry === undefined ? undefined : entry.value;
  }

  update(value: T): void {
    const key = this.#current.key ?? this.#current.require(this.#name);
    if (value === undefined) {
      this.#entries.delete(key);
      return;
    }
    // Existing key: one Map.get and a field write, cheaper than Map.set (no rehash of a fresh string key on insert).
    const entry = this.#entries.get(key);
    if (entry !== undefined) entry.value = value;
    else this.#entries.set(key, { keyGroup: this.#current.keyGroup(), value });
  }

  clear(): void {
    this.#entries.delete(this.#current.key ?? this.#current.require(this.#name));
  }
}
