import type { CurrentKey } from './current-key.ts';
import type { StateKey } from './key-groups.ts';
import type { Entry } from './state-table.ts';

/**
 * A map per key (user keys are strings or numbers and keep their type across snapshots). Every call applies to the
 * executor's current key. Iterators are live views of the current key's map.
 *
 * @example
 * ```ts
 * const perPage = state.getMapState<string, number>('views-per-page');
 * perPage.put(event.page, (perPage.get(event.page) ?? 0) + 1);
 * ```
 */
export interface MapState<K extends StateKey, V> {
  get(k: K): V | undefined;
  put(k: K, v: V): void;
  has(k: K): boolean;
  remove(k: K): void;
  entries(): IterableIterator<[K, V]>;
  keys(): IterableIterator<K>;
  size(): number;
  /** Removes the whole map of the current key. */
  clear(): void;
}

const EMPTY_MAP = new Map<never, never>(); // shared; never written to

/** @internal */
export class MapStateHandle<K extends StateKey, V> implements MapState<K, V> {
  readonly #name: string;
  readonly #current: CurrentKey;
  readonly #entries: Map<StateKey, Entry<Map<K, V>>>;

  constructor(name: string, current: CurrentKey, entries: Map<StateKey, Entry<unknown>>) {
    this.#name = name;
    this.#current = current;
    this.#entries = entries as Map<StateKey, Entry<Map<K, V>>>;
  }

  get(k: K): V | undefined {
    return this.#map()?.get(k);
  }

  put(k: K, v: V): void {
    const key = this.#current.key ?? this.#current.require(this.#name);
    const entry = this.#entries.get(key);
    if (entry !== undefined) entry.value.set(k, v);
    else this.#entries.set(key, { keyGroup: this.#current.keyGroup(), value: new Map([[k, v]]) });
  }

  has(k: K): boolean {
    return this.#map()?.has(k) ?? false;
  }

  remove(k: K): void {
    const key = this.#current.key ?? this.#current.require(this.#name);
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    entry.value.delete(k);
    // An empty map is no state: dropping it keeps keyCount() and snapshots free of dead keys.
    if (entry.value.size === 0) this.#entries.delete(key);
  }

  entries(): IterableIterator<[K, V]> {
    return (this.#map() ?? (EMPTY_MAP as Map<K, V>)).entries();
  }

  keys(): IterableIterator<K> {
    return (this.#map() ?? (EMPTY_MAP as Map<K, V>)).keys();
  }

  size(): number {
    return this.#map()?.size ?? 0;
  }

  clear(): void {
    this.#entries.delete(this.#current.key ?? this.#current.require(this.#name));
  }

  #map(): Map<K, V> | undefined {
    const entry = this.#entries.get(this.#current.key ?? this.#current.require(this.#name));
    return entry === undefined ? undefined : entry.value;
  }
}
