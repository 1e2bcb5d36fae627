/**
 * Counts event-loop turns until stopped: a `setImmediate` that schedules itself again, so the count grows only when
 * the code under test yields to the event loop. Deterministic with a `TimeSlicer(0)` (a yield at every check).
 *
 * @example
 * ```ts
 * const turns = countEventLoopTurns();
 * await longSlicedWork(new TimeSlicer(0));
 * assert.ok(turns.stop() > 10);
 * ```
 */
export function countEventLoopTurns(): { stop(): number } {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      counting = false;
      return turns;
    },
  };
}
