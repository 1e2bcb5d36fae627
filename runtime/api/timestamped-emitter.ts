/**
 * What Sluice's own functions over keyed streams (the interval join) reach on a keyed process context besides its
 * public API: emitting with an event time other than the record's. A user's function cannot: Flink's process
 * functions cannot set an output's timestamp either, and an output stamped behind the watermark would be late
 * downstream. The interval join stamps each pair with the later of its two records' times, as Flink does.
 * @internal
 */
export interface TimestampedEmitter {
  /**
   * Emits `value` to the main output at `timestamp`. `recordTimestamp` is the time of the record being processed,
   * which outputs emitted before this one without a time of their own get.
   */
  emitAt(value: unknown, timestamp: number, recordTimestamp: number): void;
  /** Emits `value` to the side output `name` at `timestamp`. */
  outputAt(name: string, value: unknown, timestamp: number): void;
}

/** The key of a keyed process context's {@link TimestampedEmitter}. @internal */
export const TIMESTAMPED: unique symbol = Symbol('sluice.timestamped');
