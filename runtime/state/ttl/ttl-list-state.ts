import type { ListState } from '../list-state.ts';
import type { ValueState } from '../value-state.ts';
import { TtlHandleBase } from './ttl-base.ts';
import type { StateTtl } from './state-ttl.ts';

/**
 * A list state with a time-to-live per element, as Flink's: each element expires `afterMs` after it was added (or
 * the list last read, with `refreshOnRead`), so a list that keeps growing at one end loses its old elements at the
 * other.
 *
 * The elements' times are a list of their own (`elementStamps`), matched to the list's elements from its end: the
 * last time is the last element's. The key's time (`keyStamp`) is a time no element's is older than, so a read
 * checks that one time and goes through the elements only once something did expire; the idle-key sweeps find the
 * keys with expired elements by it too.
 *
 * Elements without a time (the list was written before elements had times: its key's time was then the list's last
 * write) are taken to be as old as the key's time, so such a list still expires as it would have; they are the first
 * ones, since times are matched from the end. A list with no key time at all (written before the state had a ttl)
 * lives until its next write.
 * @internal
 */
export class TtlListState<T> extends TtlHandleBase implements ListState<T> {
  constructor(
    readonly inner: ListState<T>,
    readonly elementStamps: ListState<number>,
    keyStamp: ValueState<number>,
    now: () => number,
    ttl: StateTtl,
  ) {
    super(keyStamp, now, ttl);
  }

  get(): readonly T[] {
    this.expireIfIdle();
    const list = this.inner.get();
    if (this.ttl.refreshOnRead === true && list.length > 0) this.#stampAll(list.length, this.now());
    return this.inner.get();
  }

  add(v: T): void {
    const now = this.now();
    this.inner.add(v);
    this.elementStamps.add(now);
    if (this.keyStamp.value() === undefined) this.keyStamp.update(now);
  }

  addAll(vs: readonly T[]): void {
    if (vs.length === 0) return;
    const now = this.now();
    this.inner.addAll(vs);
    this.elementStamps.addAll(vs.map(() => now));
    if (this.keyStamp.value() === undefined) this.keyStamp.update(now);
  }

  update(vs: readonly T[]): void {
    this.inner.update(vs);
    if (vs.length === 0) this.clear();
    else this.#stampAll(vs.length, this.now());
  }

  clear(): void {
    this.inner.clear();
    this.elementStamps.clear();
    this.keyStamp.clear();
  }

  /**
   * Removes the expired elements, if the key's time says there may be some (else it costs one lookup); the key's time
   * becomes the oldest element's left, and a list left empty goes with its times. Whether an element was removed.
   */
  expireIfIdle(): boolean {
    const keyTime = this.keyStamp.value();
    const cutoff = this.cutoff();
    if (keyTime === undefined || keyTime > cutoff) return false;
    const list = this.inner.get();
    const times = this.elementStamps.get();
    const unstamped = list.length - times.length; // the first elements have no time of their own
    const kept: T[] = [];
    const keptTimes: number[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < list.length; i++) {
      const t = i < unstamped ? keyTime : times[i - unstamped]!;
      if (t <= cutoff) continue;
      kept.push(list[i]!);
      keptTimes.push(t);
      if (t < oldest) oldest = t;
    }
    if (kept.length === 0) {
      this.clear();
      return list.length > 0;
    }
    if (kept.length === list.length) {
      this.keyStamp.update(oldest); // nothing expired: the key's time was below the oldest element's
      return false;
    }
    this.inner.update(kept);
    this.elementStamps.update(keptTimes);
    this.keyStamp.update(oldest);
    return true;
  }

  /** Stamps all `length` elements used at `now`. */
  #stampAll(length: number, now: number): void {
    this.elementStamps.update(new Array<number>(length).fill(now));
    this.keyStamp.update(now);
  }
}
