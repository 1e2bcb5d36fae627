import type { CurrentKey } from './current-key.ts';
import type { StateKey } from './key-groups.ts';
import { insertEntry, removeEntry, touch, type Entry, type StateTable } from './state-table.ts';
import { illFormedKey, loneSurrogateAt } from './well-formed-key.ts';

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
  values(): IterableIterator<V>;
  size(): number;
  /** Removes the whole map of the current key. */
  clear(): void;
}

const EMPTY_MAP = new Map<never, never>(); // shared; never written to

/**
 * Emptied maps are swept once there are more than {@link SWEEP_AT_LEAST} of them and {@link SWEEP_RATIO} times as
 * many as maps holding state. Memory stays within (1 + ratio) times the live entries, and a sweep's cost is spread
 * over at least as many removals as it visits entries. A lower ratio sweeps state that comes back: a window per key
 * and minute leaves about as many keys empty as live between two firings, and a ratio of 1 swept them every window.
 */
const SWEEP_AT_LEAST = 4096;
const SWEEP_RATIO = 4;

/**
 * @internal
 *
 * A key whose map becomes empty keeps its entry (and its Map) in the table instead of losing it: state that comes
 * and goes per key, like a window per key and minute, would otherwise allocate a Map and an entry, hash the key to
 * its key group and insert it into the table again for every new window (measured: ~30% of an event-time tumbling
 * count, bench/event-time-windows.ts). Empty maps are no state: snapshots and key counts skip them, and they are
 * swept when there are many of them ({@link SWEEP_AT_LEAST}, {@link SWEEP_RATIO}).
 */
export class MapStateHandle<K extends StateKey, V> implements MapState<K, V> {
  readonly #name: string;
  readonly #current: CurrentKey;
  readonly #table: StateTable;
  readonly #entries: Map<StateKey, Entry<Map<K, V>>>;

  constructor(name: string, current: CurrentKey, table: StateTable) {
    this.#name = name;
    this.#current = current;
    this.#table = table;
    this.#entries = table.entries as Map<StateKey, Entry<Map<K, V>>>;
  }

  get(k: K): V | undefined {
    return this.#map()?.get(k);
  }

  put(k: K, v: V): void {
    if (typeof k === 'string' && !k.isWellFormed()) throw illFormedKey(`the map key of state "${this.#name}"`, k, loneSurrogateAt(k));
    const key = this.#current.key ?? this.#current.require(this.#name);
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      const map = entry.value;
      if (map.size === 0) this.#table.emptyMaps--;
      map.set(k, v);
      touch(this.#table, entry, this.#current.epoch);
      return;
    }
    const map = new Map<K, V>(); // not new Map([[k, v]]): building from an iterable is several times slower
    map.set(k, v);
    insertEntry(this.#table, key, this.#current.keyGroup(), map, this.#current.epoch);
  }

  has(k: K): boolean {
    return this.#map()?.has(k) ?? false;
  }

  remove(k: K): void {
    const entry = this.#entries.get(this.#current.key ?? this.#current.require(this.#name));
    if (entry === undefined) return;
    touch(this.#table, entry, this.#current.epoch);
    const map = entry.value;
    if (map.size !== 1 || !map.has(k)) {
      map.delete(k);
      return;
    }
    // Deleting a Map's last element makes V8 shrink its table in a runtime call (~600 ns, measured); a new empty
    // Map costs a tenth of that.
    entry.value = new Map();
    const table = this.#table;
    const empty = ++table.emptyMaps;
    if (empty > SWEEP_AT_LEAST && empty > SWEEP_RATIO * (this.#entries.size - empty)) this.#sweep();
  }

  entries(): IterableIterator<[K, V]> {
    return (this.#map() ?? (EMPTY_MAP as Map<K, V>)).entries();
  }

  keys(): IterableIterator<K> {
    return (this.#map() ?? (EMPTY_MAP as Map<K, V>)).keys();
  }

  values(): IterableIterator<V> {
    return (this.#map() ?? (EMPTY_MAP as Map<K, V>)).values();
  }

  size(): number {
    return this.#map()?.size ?? 0;
  }

  clear(): void {
    const key = this.#current.key ?? this.#current.require(this.#name);
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (entry.value.size === 0) this.#table.emptyMaps--;
    removeEntry(this.#table, entry);
  }

  #map(): Map<K, V> | undefined {
    const entry = this.#entries.get(this.#current.key ?? this.#current.require(this.#name));
    if (entry === undefined) return undefined;
    touch(this.#table, entry, this.#current.epoch); // values got from the map may be changed in place
    return entry.value;
  }

  /**
   * Drops every emptied map (deleting from a Map while iterating it is safe). A swept key is noted as deleted: its map
   * may have emptied since the last snapshot, and the next incremental checkpoint must then say that it has no state.
   */
  #sweep(): void {
    const table = this.#table;
    for (const entry of this.#entries.values()) if (entry.value.size === 0) removeEntry(table, entry);
    table.emptyMaps = 0;
  }
}
