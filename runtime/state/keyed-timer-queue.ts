import type { StateKey } from './key-groups.ts';

/** A due timer: the key to set as current and the timestamp it was registered for. */
export interface DueTimer {
  key: StateKey;
  timestamp: number;
}

/** The due timers of one timestamp: the keys to set as current, in registration order. */
export interface DueTimerGroup {
  readonly timestamp: number;
  readonly keys: readonly StateKey[];
}

/**
 * Processing-time timers of one backend: at most one timer per (key, timestamp).
 *
 * Layout: `timestamp → (key → key group)` plus a binary min-heap of timestamps. Deleting a timer only touches the
 * map; the heap keeps a stale timestamp that is skipped when it reaches the top (lazy deletion), and the heap is
 * rebuilt when stale entries outnumber live timestamps. Timers of one timestamp fire in registration order.
 * @internal
 */
export class KeyedTimerQueue {
  readonly #byTime = new Map<number, Map<StateKey, number>>();
  #heap: number[] = [];
  #count = 0;
  /**
   * The timestamp last added to and its keys: windows of all keys end together, so most additions hit the same
   * timestamp, and a lookup by a timestamp (a boxed double) costs more than the rest of `add`. Reset whenever a
   * timestamp leaves `#byTime`.
   */
  #lastTimestamp = Number.NaN;
  #lastKeys: Map<StateKey, number> | undefined = undefined;
  /**
   * Key groups whose timers were added, deleted or fired since the backend last took this set (its next incremental
   * checkpoint rewrites their timers); `undefined` when the backend takes full snapshots only.
   */
  changedGroups: Set<number> | undefined = undefined;

  get size(): number {
    return this.#count;
  }

  add(key: StateKey, keyGroup: number, timestamp: number): void {
    let keys = timestamp === this.#lastTimestamp ? this.#lastKeys : this.#byTime.get(timestamp);
    if (keys === undefined) {
      keys = new Map();
      this.#byTime.set(timestamp, keys);
      this.#push(timestamp);
    }
    this.#lastTimestamp = timestamp;
    this.#lastKeys = keys;
    const before = keys.size; // one lookup instead of has() + set()
    keys.set(key, keyGroup);
    if (keys.size !== before) {
      this.#count++;
      this.changedGroups?.add(keyGroup);
    }
  }

  delete(key: StateKey, timestamp: number): void {
    const keys = this.#byTime.get(timestamp);
    if (keys === undefined) return;
    const changed = this.changedGroups;
    if (changed !== undefined) {
      const keyGroup = keys.get(key);
      if (keyGroup === undefined) return;
      changed.add(keyGroup);
    }
    if (!keys.delete(key)) return;
    this.#count--;
    if (keys.size === 0) {
      this.#byTime.delete(timestamp);
      this.#forgetLast();
      if (this.#heap.length > 2 * this.#byTime.size + 64) this.#rebuildHeap();
    }
  }

  next(): number | undefined {
    const heap = this.#heap;
    while (heap.length > 0 && !this.#byTime.has(heap[0]!)) this.#pop();
    return heap.length > 0 ? heap[0] : undefined;
  }

  pollDue(now: number): DueTimer[] {
    const due: DueTimer[] = [];
    for (const { timestamp, keys } of this.pollDueGroups(now)) for (const key of keys) due.push({ key, timestamp });
    return due;
  }

  /**
   * Removes and returns the timers with `timestamp <= now`, one group per timestamp in timestamp order, keys in
   * registration order: one object per timestamp instead of one per timer (windows of all keys end together, so a
   * firing is thousands of keys at one timestamp).
   */
  pollDueGroups(now: number): DueTimerGroup[] {
    const due: DueTimerGroup[] = [];
    for (;;) {
      const timestamp = this.next();
      if (timestamp === undefined || timestamp > now) break;
      this.#pop();
      const keys = this.#byTime.get(timestamp)!;
      this.#byTime.delete(timestamp);
      this.#forgetLast();
      this.#count -= keys.size;
      const changed = this.changedGroups;
      if (changed !== undefined) for (const keyGroup of keys.values()) changed.add(keyGroup);
      due.push({ timestamp, keys: [...keys.keys()] });
    }
    return due;
  }

  /** Every timer as (key, key group, timestamp), for snapshots. */
  *all(): Generator<[StateKey, number, number]> {
    for (const [timestamp, keys] of this.#byTime) {
      for (const [key, keyGroup] of keys) yield [key, keyGroup, timestamp];
    }
  }

  #forgetLast(): void {
    this.#lastTimestamp = Number.NaN;
    this.#lastKeys = undefined;
  }

  #rebuildHeap(): void {
    this.#heap = [...this.#byTime.keys()].sort((a, b) => a - b); // a sorted array is a valid min-heap
  }

  #push(value: number): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= value) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = value;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]! < heap[l]! ? r : l;
      if (heap[c]! >= last) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
}
