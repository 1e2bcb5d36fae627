import { removeEntry, type Entry, type StateTable } from '../state-table.ts';

/**
 * Removes the expired keys of one TTL'd state of the heap backend, a few at a time: keys that are never read again
 * would otherwise hold their state (and memory) for ever, since expiry is otherwise found on access. Flink's
 * "incremental cleanup" of heap state: each call walks on from where the last one stopped, over the companion's
 * last-use times (a `Map` iterator survives the deletes), and removes both the state and its time of each key whose
 * time is at or before the cutoff. A removal is a delete like any other: an incremental checkpoint writes its
 * tombstone.
 * @internal
 */
export class HeapTtlSweep {
  #cursor: Iterator<Entry<unknown>> | undefined;

  constructor(
    readonly stamps: StateTable,
    readonly state: () => StateTable | undefined,
  ) {}

  /** Visits up to `budget` keys (each at most once per call); returns how many it removed. */
  sweep(cutoff: number, budget: number): number {
    const state = this.state();
    let removed = 0;
    let wrapped = false;
    for (let visited = 0; visited < budget && visited < this.stamps.entries.size + removed; visited++) {
      this.#cursor ??= this.stamps.entries.values();
      const next = this.#cursor.next();
      if (next.done === true) {
        this.#cursor = undefined;
        if (wrapped) break;
        wrapped = true;
        visited--;
        continue;
      }
      const stamp = next.value;
      if ((stamp.value as number) > cutoff) continue;
      const entry = state?.entries.get(stamp.key);
      if (state !== undefined && entry !== undefined) {
        if (state.kind === 'map' && (entry.value as Map<unknown, unknown>).size === 0) state.emptyMaps--;
        removeEntry(state, entry);
      }
      removeEntry(this.stamps, stamp);
      removed++;
    }
    return removed;
  }
}
