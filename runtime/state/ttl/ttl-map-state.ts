import type { StateKey } from '../key-groups.ts';
import type { MapState } from '../map-state.ts';
import type { ValueState } from '../value-state.ts';
import { TtlHandleBase } from './ttl-base.ts';
import type { StateTtl } from './state-ttl.ts';

/**
 * A map state with a time-to-live per entry, as Flink's: each entry expires `afterMs` after its own last write (or
 * read, with `refreshOnRead`), so a key that keeps writing new entries does not keep its old ones for ever (a map of
 * ids seen, say).
 *
 * Each entry's time is in `entryStamps` (user key → ms). The key's time (`keyStamp`) is a time no entry's is older
 * than: set when the map gets its first entry, moved up to the oldest entry's when expired entries are removed. While
 * it has not passed, nothing in the map has expired, so reading the whole map checks one time, not each entry's; and
 * the idle-key sweeps, which look at key times only, find the keys with expired entries.
 *
 * An entry without a time of its own (the map was written before entries had times: its key's time was then the
 * map's last write) is taken to be as old as the key's time, so such a map still expires as it would have. A map with
 * no key time at all (written before the state had a ttl) lives until its next write.
 * @internal
 */
export class TtlMapState<K extends StateKey, V> extends TtlHandleBase implements MapState<K, V> {
  constructor(
    readonly inner: MapState<K, V>,
    readonly entryStamps: MapState<K, number>,
    keyStamp: ValueState<number>,
    now: () => number,
    ttl: StateTtl,
  ) {
    super(keyStamp, now, ttl);
  }

  get(k: K): V | undefined {
    const v = this.inner.get(k);
    if (v === undefined && !this.inner.has(k)) return undefined;
    return this.#readable(k) ? v : undefined;
  }

  has(k: K): boolean {
    return this.inner.has(k) && this.#readable(k);
  }

  put(k: K, v: V): void {
    this.inner.put(k, v);
    this.#stamp(k, this.now());
  }

  remove(k: K): void {
    this.inner.remove(k);
    this.entryStamps.remove(k);
    if (this.inner.size() === 0) this.clear();
  }

  entries(): IterableIterator<[K, V]> {
    this.#readAll();
    return this.inner.entries();
  }

  keys(): IterableIterator<K> {
    this.#readAll();
    return this.inner.keys();
  }

  values(): IterableIterator<V> {
    this.#readAll();
    return this.inner.values();
  }

  /** The live entries; does not count as a read of them (`refreshOnRead`). */
  size(): number {
    this.expireIfIdle();
    return this.inner.size();
  }

  clear(): void {
    this.inner.clear();
    this.entryStamps.clear();
    this.keyStamp.clear();
  }

  /**
   * Removes the expired entries, if the key's time says there may be some (else it costs one lookup); the key's time
   * becomes the oldest entry's left, and a map left empty goes with its times. Whether an entry was removed.
   */
  expireIfIdle(): boolean {
    const keyTime = this.keyStamp.value();
    const cutoff = this.cutoff();
    if (keyTime === undefined || keyTime > cutoff) return false;
    const expired: K[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const k of this.inner.keys()) {
      const t = this.entryStamps.get(k) ?? keyTime;
      if (t <= cutoff) expired.push(k);
      else if (t < oldest) oldest = t;
    }
    if (oldest === Number.POSITIVE_INFINITY) {
      this.clear();
      return expired.length > 0;
    }
    for (const k of expired) {
      this.inner.remove(k);
      this.entryStamps.remove(k);
    }
    this.keyStamp.update(oldest);
    return expired.length > 0;
  }

  /** Whether entry `k` (present) is alive; an expired one is removed. Refreshes its time when reads count as use. */
  #readable(k: K): boolean {
    const t = this.entryStamps.get(k) ?? this.keyStamp.value();
    if (t === undefined) return true; // no time yet: restored from before the ttl was declared
    const now = this.now();
    if (now - t >= this.ttl.afterMs) {
      this.remove(k);
      return false;
    }
    if (this.ttl.refreshOnRead === true) this.#stamp(k, now);
    return true;
  }

  /** Before the whole map is read: removes what expired, and refreshes every entry when reads count as use. */
  #readAll(): void {
    this.expireIfIdle();
    if (this.ttl.refreshOnRead !== true) return;
    const now = this.now();
    for (const k of this.inner.keys()) this.entryStamps.put(k, now);
    if (this.inner.size() > 0) this.keyStamp.update(now); // every entry was just used
  }

  /** Stamps entry `k` used at `now`; the key's time, a bound below every entry's, only needs setting when missing. */
  #stamp(k: K, now: number): void {
    this.entryStamps.put(k, now);
    if (this.keyStamp.value() === undefined) this.keyStamp.update(now);
  }
}
