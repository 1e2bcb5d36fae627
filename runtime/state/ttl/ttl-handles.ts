import type { KeyedStateBackend } from '../keyed-state-backend.ts';
import type { StateKey } from '../key-groups.ts';
import type { ListState } from '../list-state.ts';
import type { MapState } from '../map-state.ts';
import type { ValueState } from '../value-state.ts';
import { TtlHandleBase, type ExpiringState } from './ttl-base.ts';
import { TtlListState } from './ttl-list-state.ts';
import { TtlMapState } from './ttl-map-state.ts';
import { ttlEntryStampsName, ttlStampsName, type StateTtl } from './state-ttl.ts';

export type { ExpiringState } from './ttl-base.ts';

/**
 * A value state with a time-to-live: the value expires with its key, `afterMs` after its last write (or read, with
 * `refreshOnRead`). Every operation first clears an expired value (and its time), so an expired value is never
 * returned.
 */
class TtlValueState<T> extends TtlHandleBase implements ValueState<T> {
  constructor(
    readonly inner: ValueState<T>,
    keyStamp: ValueState<number>,
    now: () => number,
    ttl: StateTtl,
  ) {
    super(keyStamp, now, ttl);
  }

  value(): T | undefined {
    const stamp = this.keyStamp.value();
    if (stamp === undefined) return this.inner.value(); // no time yet: restored from before the ttl was declared
    if (this.#clearIfExpired(stamp)) return undefined;
    if (this.ttl.refreshOnRead === true) this.keyStamp.update(this.now());
    return this.inner.value();
  }

  update(value: T): void {
    this.inner.update(value);
    if (value === undefined) this.keyStamp.clear();
    else this.keyStamp.update(this.now());
  }

  clear(): void {
    this.inner.clear();
    this.keyStamp.clear();
  }

  expireIfIdle(): boolean {
    const stamp = this.keyStamp.value();
    return stamp !== undefined && this.#clearIfExpired(stamp);
  }

  #clearIfExpired(stamp: number): boolean {
    if (stamp > this.cutoff()) return false;
    this.clear();
    return true;
  }
}

/** Any state handle, as the backend hands it out. @internal */
export type AnyStateHandle = ValueState<unknown> | MapState<StateKey, unknown> | ListState<unknown>;

/**
 * State `name` of `backend` (a state of `kind`) with a time-to-live: what expired is never returned, and writes
 * (reads too, with `refreshOnRead`) stamp the last use in the state's companions ({@link ttlStampsName} per key, and
 * {@link ttlEntryStampsName} per map entry or list element). `now` is the operator's processing-time clock.
 *
 * @example
 * ```ts
 * const seen = withTtl(backend, 'seen', 'map', () => clock.now(), { afterMs: 60_000 }) as MapState<string, number>;
 * ```
 * @internal
 */
export function withTtl(backend: KeyedStateBackend, name: string, kind: 'value' | 'map' | 'list', now: () => number, ttl: StateTtl): AnyStateHandle & ExpiringState {
  const keyStamp = backend.getValueState<number>(ttlStampsName(name));
  if (kind === 'value') return new TtlValueState(backend.getValueState(name), keyStamp, now, ttl);
  if (kind === 'map') return new TtlMapState(backend.getMapState(name), backend.getMapState<StateKey, number>(ttlEntryStampsName(name)), keyStamp, now, ttl);
  return new TtlListState(backend.getListState(name), backend.getListState<number>(ttlEntryStampsName(name)), keyStamp, now, ttl);
}
