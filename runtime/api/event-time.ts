import { SluiceError } from '../errors/index.ts';

/**
 * A watermark `W` says: no more records with a timestamp ≤ `W` are expected. It never goes back. Event-time timers
 * at `t ≤ W` fire, and a window `[start, end)` fires once `W ≥ end − 1` — Flink's convention.
 */
export type Watermark = number;

/** The watermark before any record: nothing is known yet. */
export const NO_WATERMARK: Watermark = Number.NEGATIVE_INFINITY;

/** The watermark at the end of bounded input: every timer and window fires. */
export const END_WATERMARK: Watermark = Number.POSITIVE_INFINITY;

/**
 * Decides one split's watermark from the timestamps seen on it (Flink's WatermarkGenerator, pull-style: the runtime
 * asks for the watermark after each batch, so both periodic and punctuated generators fit).
 */
export interface WatermarkGenerator<T> {
  /** Sees every record of the split, with its timestamp, in the split's order. */
  onEvent(record: T, timestamp: number): void;
  /** The split's watermark now; {@link NO_WATERMARK} until it knows one. The runtime keeps the maximum it saw. */
  currentWatermark(): Watermark;
}

/**
 * How a source assigns event time and watermarks: the record's timestamp, one generator per split (a Kafka
 * partition), and idleness. Build one with {@link boundedOutOfOrderness}, {@link monotonousTimestamps} or
 * {@link customWatermarks}, and give it to `env.source(source, { watermarks })`.
 */
export interface WatermarkStrategy<T> {
  /** Event time of a record, in epoch milliseconds; must be a finite number. */
  readonly timestamp: (record: T) => number;
  /** A fresh generator for one split. */
  readonly createGenerator: () => WatermarkGenerator<T>;
  /**
   * A split that delivered nothing for this long (processing time) stops holding the watermark back, and rejoins
   * when data comes. Without it, one empty Kafka partition holds every window open forever.
   */
  readonly idleAfterMs?: number;
  /** Keeps this source's watermark within a drift of the other sources of its group: see {@link WatermarkAlignment}. */
  readonly alignment?: WatermarkAlignment;
}

/**
 * Watermark alignment (Flink's `withWatermarkAlignment`): a source subtask whose watermark is more than `maxDriftMs`
 * ahead of the lowest watermark of its group stops reading until the others catch up. Sources of one job that share
 * a `group` are aligned with each other (e.g. the two inputs of a join, one of them catching up on a backlog), so
 * records far ahead in event time do not pile up in windows and joins, waiting for the slow input's watermark.
 *
 * Idle and finished subtasks do not hold their group back; a subtask paused by alignment does not count as idle.
 * Within a subtask, a reader that can pause splits (`SourceReader.pauseSplits`: Kafka, datagen) is aligned split by
 * split: a partition ahead pauses while the subtask's other partitions read on.
 *
 * @example
 * ```ts
 * boundedOutOfOrderness({ maxOutOfOrdernessMs: 5_000, timestamp: (o) => o.ts, alignment: { group: 'orders', maxDriftMs: 60_000 } })
 * ```
 */
export interface WatermarkAlignment {
  /** Sources with the same group name in one job are aligned with each other. */
  readonly group: string;
  /** How far (event time, ms) a subtask's watermark may run ahead of the group's lowest before it pauses. */
  readonly maxDriftMs: number;
  /** How often (processing time, ms) a paused subtask looks at the group's watermarks again. Default 1,000. */
  readonly updateIntervalMs?: number;
}

/** Options every built-in strategy takes. */
export interface WatermarkOptions<T> {
  /** Event time of a record, in epoch milliseconds. */
  readonly timestamp: (record: T) => number;
  /** See {@link WatermarkStrategy.idleAfterMs}. */
  readonly idleAfterMs?: number;
  /** See {@link WatermarkAlignment}. */
  readonly alignment?: WatermarkAlignment;
}

/**
 * Timestamps arrive out of order by at most `maxOutOfOrdernessMs`: the watermark trails the highest timestamp seen
 * on the split by that much (`max − bound − 1`). Records later than that are late (see windows' allowed lateness).
 *
 * @example
 * ```ts
 * env.source(kafkaSource({ … }), {
 *   watermarks: boundedOutOfOrderness({ maxOutOfOrdernessMs: 5_000, timestamp: (r) => r.value.ts, idleAfterMs: 30_000 }),
 * });
 * ```
 */
export function boundedOutOfOrderness<T>(options: WatermarkOptions<T> & { readonly maxOutOfOrdernessMs: number }): WatermarkStrategy<T> {
  const bound = options.maxOutOfOrdernessMs;
  if (!Number.isFinite(bound) || bound < 0) {
    throw new SluiceError('SLUICE_INVALID_JOB', `maxOutOfOrdernessMs must be a finite number ≥ 0, got ${String(bound)}`, { retriable: false });
  }
  return strategy(options, () => {
    let max = Number.NEGATIVE_INFINITY;
    return {
      onEvent(_record, timestamp) {
        if (timestamp > max) max = timestamp;
      },
      currentWatermark: () => (max === Number.NEGATIVE_INFINITY ? NO_WATERMARK : max - bound - 1),
    };
  });
}

/**
 * Timestamps only grow within a split (a log written in time order): the watermark is the highest timestamp seen
 * minus one, so a record with an equal timestamp is still on time.
 *
 * @example
 * ```ts
 * env.source(orders, { watermarks: monotonousTimestamps({ timestamp: (o) => o.createdAt }) });
 * ```
 */
export function monotonousTimestamps<T>(options: WatermarkOptions<T>): WatermarkStrategy<T> {
  return boundedOutOfOrderness({ ...options, maxOutOfOrdernessMs: 0 });
}

/**
 * Your own generator, one per split: e.g. punctuated watermarks carried by marker records.
 *
 * @example
 * ```ts
 * customWatermarks({
 *   timestamp: (r) => r.ts,
 *   generator: () => {
 *     let watermark = NO_WATERMARK;
 *     return {
 *       onEvent: (r) => { if (r.type === 'heartbeat') watermark = r.ts; },
 *       currentWatermark: () => watermark,
 *     };
 *   },
 * });
 * ```
 */
export function customWatermarks<T>(options: WatermarkOptions<T> & { readonly generator: () => WatermarkGenerator<T> }): WatermarkStrategy<T> {
  return strategy(options, options.generator);
}

function strategy<T>(options: WatermarkOptions<T>, createGenerator: () => WatermarkGenerator<T>): WatermarkStrategy<T> {
  if (typeof options.timestamp !== 'function') {
    throw new SluiceError('SLUICE_INVALID_JOB', 'a watermark strategy needs timestamp: (record) => epoch milliseconds', { retriable: false });
  }
  const idle = options.idleAfterMs;
  if (idle !== undefined && (!Number.isFinite(idle) || idle <= 0)) {
    throw new SluiceError('SLUICE_INVALID_JOB', `idleAfterMs must be a positive number of milliseconds, got ${String(idle)}`, { retriable: false });
  }
  const alignment = options.alignment;
  if (alignment !== undefined) checkAlignment(alignment);
  return {
    timestamp: options.timestamp,
    createGenerator,
    ...(idle === undefined ? {} : { idleAfterMs: idle }),
    ...(alignment === undefined ? {} : { alignment }),
  };
}

function checkAlignment(alignment: WatermarkAlignment): void {
  const problem = (what: string): never => {
    throw new SluiceError('SLUICE_INVALID_JOB', `watermark alignment: ${what}; e.g. alignment: { group: 'orders', maxDriftMs: 60_000 }`, { retriable: false });
  };
  if (typeof alignment !== 'object' || alignment === null) problem('alignment must be an object { group, maxDriftMs, updateIntervalMs? }');
  const { group, maxDriftMs, updateIntervalMs } = alignment;
  if (typeof group !== 'string' || group.length === 0) problem(`group must be a non-empty string, got ${String(group)}`);
  if (typeof maxDriftMs !== 'number' || !Number.isFinite(maxDriftMs) || maxDriftMs < 0) problem(`maxDriftMs must be a finite number ≥ 0, got ${String(maxDriftMs)}`);
  if (updateIntervalMs !== undefined && (typeof updateIntervalMs !== 'number' || !Number.isFinite(updateIntervalMs) || updateIntervalMs <= 0)) {
    problem(`updateIntervalMs must be a positive number of milliseconds, got ${String(updateIntervalMs)}`);
  }
}
