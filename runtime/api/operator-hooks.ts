/**
 * What Sluice's own functions over keyed streams (the interval and window joins) reach on a keyed process context
 * besides its public API.
 *
 * - Emitting with an event time other than the record's: a user's function cannot (Flink's process functions cannot
 *   set an output's timestamp either, and an output stamped behind the watermark would be late downstream); the
 *   interval join stamps each pair with the later of its two records' times, as Flink does.
 * - Counting a late record dropped, as a window does: in the subtask's `lateRecordsDropped` (status, metrics) and in a
 *   warning at the first and every 10,000th.
 * @internal
 */
export interface OperatorHooks {
  /**
   * Emits `value` to the main output at `timestamp`. `recordTimestamp` is the time of the record being processed,
   * which outputs emitted before this one without a time of their own get.
   */
  emitAt(value: unknown, timestamp: number, recordTimestamp: number): void;
  /** Emits `value` to the side output `name` at `timestamp`. */
  outputAt(name: string, value: unknown, timestamp: number): void;
  /** A record at `timestamp` came too late and is dropped; `why` ends "dropped a record … behind the watermark, ". */
  dropLate(timestamp: number, why: string): void;
}

/** The key of a keyed process context's {@link OperatorHooks}. @internal */
export const OPERATOR_HOOKS: unique symbol = Symbol('sluice.operatorHooks');
