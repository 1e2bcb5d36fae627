/**
 * Walks a `Map`'s values a few at a time: each call resumes where the last one stopped and goes round to the start
 * once, so a call visits a value at most once (counted against the map's size when the call began). A `Map` iterator
 * survives deletes and sees inserts, so the map may change between calls and during a visit. The sweeps of TTL'd
 * state walk their last-use times this way, a budget per batch of records.
 * @internal
 */
export class ResumableWalk<V> {
  #cursor: Iterator<V> | undefined;

  constructor(readonly map: ReadonlyMap<unknown, V>) {}

  /** Calls `visit` with up to `max` values. */
  walk(max: number, visit: (value: V) => void): void {
    const limit = Math.min(max, this.map.size);
    let wrapped = false;
    for (let visited = 0; visited < limit; ) {
      this.#cursor ??= this.map.values();
      const next = this.#cursor.next();
      if (next.done === true) {
        this.#cursor = undefined;
        if (wrapped) return;
        wrapped = true;
        continue;
      }
      visited++;
      visit(next.value);
    }
  }
}
