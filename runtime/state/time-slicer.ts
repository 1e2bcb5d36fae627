import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Cooperative time slicing for long jobs on the event loop (snapshots, restores): work in slices of `sliceMs`,
 * then let timers, I/O and other subtasks run.
 *
 * 5 ms slices keep the event-loop delay of a 1M-key snapshot well under the 50 ms bar (see
 * `bench/state-snapshot.ts`); a `setImmediate` turn costs a few µs, so the slices cost under 1 % in throughput.
 * @internal
 */
export class TimeSlicer {
  readonly #sliceMs: number;
  #sliceStart = performance.now();

  constructor(sliceMs = 5) {
    this.#sliceMs = sliceMs;
  }

  /** Yields to the event loop when the current slice is used up. Call it every few hundred µs of work. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.#sliceStart < this.#sliceMs) return;
    await nextTurn();
    this.#sliceStart = performance.now();
  }
}
