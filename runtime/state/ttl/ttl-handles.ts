import type { StateKey } from '../key-groups.ts';
import type { ListState } from '../list-state.ts';
import type { MapState } from '../map-state.ts';
import type { ValueState } from '../value-state.ts';
import type { StateTtl } from './state-ttl.ts';

/**
 * The expiry of one TTL'd state for the current key: its last-use time lives in a companion value state (`stamps`).
 * Every operation on the state asks {@link live} first, which clears an expired key's state (and its time) before the
 * operation sees it: an expired value is never returned, and a write to an expired key starts from nothing, so a
 * put into an expired map does not bring its old entries back.
 */
class TtlGuard {
  constructor(
    readonly stamps: ValueState<number>,
    readonly now: () => number,
    readonly ttl: StateTtl,
    readonly clearState: () => void,
  ) {}

  /** Whether the current key's state is alive; an expired one is cleared first. */
  live(): boolean {
    const stamp = this.stamps.value();
    return stamp !== undefined && !this.#clearIfExpired(stamp);
  }

  /** Clears the state if it expired; whether it did. */
  expire(): boolean {
    const stamp = this.stamps.value();
    return stamp !== undefined && this.#clearIfExpired(stamp);
  }

  #clearIfExpired(stamp: number): boolean {
    if (this.now() - stamp < this.ttl.afterMs) return false;
    this.clearState();
    this.stamps.clear();
    return true;
  }

  /** Before a read: clears an expired state; refreshes the time when reads count as use. */
  read(): void {
    if (this.live() && this.ttl.refreshOnRead === true) this.stamps.update(this.now());
  }

  /** Before a write: clears an expired state, so the write starts from nothing. */
  beforeWrite(): void {
    this.live();
  }

  /** After a write: the state is used now, or has nothing left to expire. */
  written(hasState: boolean): void {
    if (hasState) this.stamps.update(this.now());
    else this.stamps.clear();
  }

  /** The state was cleared. */
  cleared(): void {
    this.stamps.clear();
  }
}

/** What the three TTL'd handles share: the guard, the sweep's check, and `clear`, which also drops the time. */
abstract class TtlHandle<H extends { clear(): void }> implements ExpiringState {
  protected readonly guard: TtlGuard;

  constructor(
    readonly inner: H,
    stamps: ValueState<number>,
    now: () => number,
    ttl: StateTtl,
  ) {
    this.guard = new TtlGuard(stamps, now, ttl, () => inner.clear());
  }

  /** Removes the current key's state if it expired; whether it did. */
  expireIfIdle(): boolean {
    return this.guard.expire();
  }

  clear(): void {
    this.inner.clear();
    this.guard.cleared();
  }
}

class TtlValueState<T> extends TtlHandle<ValueState<T>> implements ValueState<T> {
  value(): T | undefined {
    this.guard.read();
    return this.inner.value();
  }

  update(value: T): void {
    this.inner.update(value);
    this.guard.written(value !== undefined);
  }
}

class TtlMapState<K extends StateKey, V> extends TtlHandle<MapState<K, V>> implements MapState<K, V> {
  get(k: K): V | undefined {
    this.guard.read();
    return this.inner.get(k);
  }

  put(k: K, v: V): void {
    this.guard.beforeWrite();
    this.inner.put(k, v);
    this.guard.written(true);
  }

  has(k: K): boolean {
    this.guard.read();
    return this.inner.has(k);
  }

  remove(k: K): void {
    this.guard.beforeWrite();
    this.inner.remove(k);
    this.guard.written(this.inner.size() > 0);
  }

  entries(): IterableIterator<[K, V]> {
    this.guard.read();
    return this.inner.entries();
  }

  keys(): IterableIterator<K> {
    this.guard.read();
    return this.inner.keys();
  }

  values(): IterableIterator<V> {
    this.guard.read();
    return this.inner.values();
  }

  size(): number {
    this.guard.read();
    return this.inner.size();
  }
}

class TtlListState<T> extends TtlHandle<ListState<T>> implements ListState<T> {
  get(): readonly T[] {
    this.guard.read();
    return this.inner.get();
  }

  add(v: T): void {
    this.guard.beforeWrite();
    this.inner.add(v);
    this.guard.written(true);
  }

  addAll(vs: readonly T[]): void {
    if (vs.length === 0) return;
    this.guard.beforeWrite();
    this.inner.addAll(vs);
    this.guard.written(true);
  }

  update(vs: readonly T[]): void {
    this.inner.update(vs);
    this.guard.written(vs.length > 0);
  }
}

/** What a TTL'd handle adds: the check a sweep runs for a key it found idle. @internal */
export interface ExpiringState {
  /** Removes the current key's state (and its last-use time) if it expired; whether it did. */
  expireIfIdle(): boolean;
}

/** Any state handle, as the backend hands it out. @internal */
export type AnyStateHandle = ValueState<unknown> | MapState<StateKey, unknown> | ListState<unknown>;

/**
 * `handle` (a state of `kind`) with a time-to-live: every operation first clears the current key's state when it
 * expired, and writes (reads too, with `refreshOnRead`) stamp the key's last use in `stamps`, the state's companion
 * ({@link ttlStampsName}). `now` is the operator's processing-time clock.
 *
 * @example
 * ```ts
 * const count = withTtl('value', backend.getValueState('count'), backend.getValueState(ttlStampsName('count')), () => clock.now(), { afterMs: 60_000 });
 * ```
 * @internal
 */
export function withTtl(kind: 'value' | 'map' | 'list', handle: AnyStateHandle, stamps: ValueState<number>, now: () => number, ttl: StateTtl): AnyStateHandle & ExpiringState {
  if (kind === 'value') return new TtlValueState(handle as ValueState<unknown>, stamps, now, ttl);
  if (kind === 'map') return new TtlMapState(handle as MapState<StateKey, unknown>, stamps, now, ttl);
  return new TtlListState(handle as ListState<unknown>, stamps, now, ttl);
}
