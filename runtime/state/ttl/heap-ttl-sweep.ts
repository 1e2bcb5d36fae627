import type { StateKey } from '../key-groups.ts';
import { removeEntry, type Entry, type StateTable } from '../state-table.ts';
import { ResumableWalk } from './resumable-walk.ts';

/**
 * Removes the expired keys of one TTL'd state of the heap backend, a few at a time: keys that are never read again
 * would otherwise hold their state (and memory) for ever, since expiry is otherwise found on access. Flink's
 * "incremental cleanup" of heap state: each call walks on from where the last one stopped over the companion's
 * per-key times (resumable-walk.ts). A key whose time is at or before the cutoff has something expired: a value
 * state's is removed here, with its time; a map's or a list's, whose entries expire one by one, is handed to
 * `expireKey`, which removes the expired entries through the state's handle. A removal is a delete like any other:
 * an incremental checkpoint writes its tombstone.
 * @internal
 */
export class HeapTtlSweep {
  readonly #walk: ResumableWalk<Entry<unknown>>;

  constructor(
    readonly stamps: StateTable,
    readonly state: () => StateTable | undefined,
  ) {
    this.#walk = new ResumableWalk(stamps.entries);
  }

  /**
   * Visits up to `budget` keys (each at most once per call); returns how many it removed state of. With `expireKey`,
   * calls it for each key found idle instead of removing the key's state itself.
   */
  sweep(cutoff: number, budget: number, expireKey?: (key: StateKey) => boolean): number {
    const state = this.state();
    let removed = 0;
    this.#walk.walk(budget, (stamp) => {
      if ((stamp.value as number) > cutoff) return;
      if (expireKey !== undefined) {
        if (expireKey(stamp.key)) removed++;
        return;
      }
      const entry = state?.entries.get(stamp.key);
      if (state !== undefined && entry !== undefined) {
        if (state.kind === 'map' && (entry.value as Map<unknown, unknown>).size === 0) state.emptyMaps--;
        removeEntry(state, entry);
      }
      removeEntry(this.stamps, stamp);
      removed++;
    });
    return removed;
  }
}
