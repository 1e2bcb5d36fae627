/**
 * The splits of a Kafka source reader that watermark alignment paused, and a way for fetch loops with nothing left
 * to fetch to wait until that changes.
 *
 * @example
 * ```ts
 * const paused = new PausedSplits();
 * paused.set(new Set(['orders-3']));   // from SourceReader.pauseSplits
 * await paused.changed();              // a fetch loop whose splits are all paused
 * ```
 */
export class PausedSplits {
  #splits: ReadonlySet<string> = new Set();
  #waiters: Array<() => void> = [];

  get splits(): ReadonlySet<string> {
    return this.#splits;
  }

  /** Replaces the paused set; wakes the waiting loops. */
  set(splits: ReadonlySet<string>): void {
    this.#splits = new Set(splits);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next {@link set}. */
  changed(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}
