import type { StateKey } from '../key-groups.ts';
import type { ListState } from '../list-state.ts';
import type { MapState } from '../map-state.ts';
import type { ValueState } from '../value-state.ts';
import { illFormedKey, loneSurrogateAt } from '../well-formed-key.ts';
import { mutable, type CachedEntry, type CachedTable } from './cached-table.ts';

/**
 * What the LevelDB backend's state handles need from it: the current key's cached entry (loaded on a miss), and
 * notice when a key gains or loses state (per-key-group counts of keys with state).
 * @internal
 */
export interface CacheAccess {
  /** The current key's entry in `table`, from the cache or loaded from the working database; marked used. */
  entry(table: CachedTable, name: string): CachedEntry;
  /** `entry` changed from no state to state (+1) or back (-1). */
  presence(entry: CachedEntry, delta: 1 | -1): void;
}

/** Removes an entry's state (a tombstone once written back). */
function clearEntry(entry: CachedEntry, access: CacheAccess): void {
  if (entry.value === undefined) return;
  access.presence(entry, -1);
  entry.value = undefined;
  entry.dirty = true;
}

// The handles below mark an entry dirty on reads that return something the caller may change in place (an object, a
// map's value, a list): a heap backend would see such a change in its next snapshot, so this one writes it back too.

/** @internal */
export class LevelDbValueState<T> implements ValueState<T> {
  constructor(
    readonly name: string,
    readonly table: CachedTable,
    readonly access: CacheAccess,
  ) {}

  value(): T | undefined {
    const entry = this.access.entry(this.table, this.name);
    const value = entry.value as T | undefined;
    if (mutable(value)) entry.dirty = true;
    return value;
  }

  update(value: T): void {
    if (value === undefined) {
      this.clear();
      return;
    }
    const entry = this.access.entry(this.table, this.name);
    if (entry.value === undefined) this.access.presence(entry, 1);
    entry.value = value;
    entry.dirty = true;
  }

  clear(): void {
    clearEntry(this.access.entry(this.table, this.name), this.access);
  }
}

const EMPTY_MAP = new Map<never, never>(); // shared; never written to

/** A key's map is held whole; a map that becomes empty is no state (`value` undefined). @internal */
export class LevelDbMapState<K extends StateKey, V> implements MapState<K, V> {
  constructor(
    readonly name: string,
    readonly table: CachedTable,
    readonly access: CacheAccess,
  ) {}

  get(k: K): V | undefined {
    const entry = this.access.entry(this.table, this.name);
    const v = (entry.value as Map<K, V> | undefined)?.get(k);
    if (mutable(v)) entry.dirty = true;
    return v;
  }

  put(k: K, v: V): void {
    if (typeof k === 'string' && !k.isWellFormed()) throw illFormedKey(`the map key of state "${this.name}"`, k, loneSurrogateAt(k));
    const entry = this.access.entry(this.table, this.name);
    let map = entry.value as Map<K, V> | undefined;
    if (map === undefined) {
      map = new Map();
      entry.value = map;
      this.access.presence(entry, 1);
    }
    map.set(k, v);
    entry.dirty = true;
  }

  has(k: K): boolean {
    return (this.access.entry(this.table, this.name).value as Map<K, V> | undefined)?.has(k) ?? false;
  }

  remove(k: K): void {
    const entry = this.access.entry(this.table, this.name);
    const map = entry.value as Map<K, V> | undefined;
    if (map === undefined || !map.has(k)) return;
    entry.dirty = true;
    if (map.size > 1) {
      map.delete(k);
      return;
    }
    entry.value = undefined;
    this.access.presence(entry, -1);
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map(true).entries();
  }

  keys(): IterableIterator<K> {
    return this.#map(false).keys();
  }

  values(): IterableIterator<V> {
    return this.#map(true).values();
  }

  size(): number {
    return (this.access.entry(this.table, this.name).value as Map<K, V> | undefined)?.size ?? 0;
  }

  clear(): void {
    clearEntry(this.access.entry(this.table, this.name), this.access);
  }

  #map(valuesEscape: boolean): Map<K, V> {
    const entry = this.access.entry(this.table, this.name);
    const map = entry.value as Map<K, V> | undefined;
    if (map === undefined) return EMPTY_MAP as Map<K, V>;
    if (valuesEscape) entry.dirty = true;
    return map;
  }
}

const EMPTY_LIST: readonly never[] = Object.freeze([]);

/** @internal */
export class LevelDbListState<T> implements ListState<T> {
  constructor(
    readonly name: string,
    readonly table: CachedTable,
    readonly access: CacheAccess,
  ) {}

  get(): readonly T[] {
    const entry = this.access.entry(this.table, this.name);
    const list = entry.value as T[] | undefined;
    if (list === undefined) return EMPTY_LIST;
    entry.dirty = true; // its elements may be changed in place
    return list;
  }

  add(v: T): void {
    this.#append([v]);
  }

  addAll(vs: readonly T[]): void {
    if (vs.length > 0) this.#append(vs);
  }

  update(vs: readonly T[]): void {
    if (vs.length === 0) {
      this.clear();
      return;
    }
    const entry = this.access.entry(this.table, this.name);
    if (entry.value === undefined) this.access.presence(entry, 1);
    entry.value = vs.slice();
    entry.dirty = true;
  }

  clear(): void {
    clearEntry(this.access.entry(this.table, this.name), this.access);
  }

  #append(vs: readonly T[]): void {
    const entry = this.access.entry(this.table, this.name);
    const list = entry.value as T[] | undefined;
    if (list === undefined) {
      entry.value = vs.slice();
      this.access.presence(entry, 1);
    } else {
      // A loop, not push(...vs): spreading a large array overflows the call stack.
      for (let i = 0; i < vs.length; i++) list.push(vs[i]!);
    }
    entry.dirty = true;
  }
}
