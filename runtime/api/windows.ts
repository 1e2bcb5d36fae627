import { SluiceError } from '../errors/index.ts';
import type { Sink } from './connector.ts';

/** A window: the records of one key with timestamps in `[start, end)`. */
export interface TimeWindow {
  /** First millisecond in the window (inclusive). */
  readonly start: number;
  /** End of the window (exclusive): it fires when the watermark (or clock) reaches `end - 1`. */
  readonly end: number;
}

/** Which clock assigns and fires windows: the records' event time (watermarks), or the wall clock. */
export type WindowTime = 'event' | 'processing';

/**
 * Where a record's windows are. Built by {@link tumblingWindows}, {@link slidingWindows} and {@link sessionWindows};
 * the runtime reads the fields, so an assigner is plain data (it is part of the plan).
 */
export type WindowAssigner =
  | { readonly kind: 'tumbling'; readonly sizeMs: number; readonly offsetMs: number; readonly time: WindowTime }
  | { readonly kind: 'sliding'; readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number; readonly time: WindowTime }
  | { readonly kind: 'session'; readonly gapMs: number; readonly time: WindowTime };

/**
 * Fixed-size, non-overlapping windows aligned to the epoch (plus `offsetMs`): `[0, 60 000)`, `[60 000, 120 000)`, …
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.page).window(tumblingWindows({ sizeMs: 60_000 })).aggregate(countPerWindow);
 * ```
 */
export function tumblingWindows(options: { readonly sizeMs: number; readonly offsetMs?: number; readonly time?: WindowTime }): WindowAssigner {
  positive('sizeMs', options.sizeMs);
  const offsetMs = options.offsetMs ?? 0;
  if (!Number.isFinite(offsetMs) || offsetMs < 0 || offsetMs >= options.sizeMs) invalid(`offsetMs must be ≥ 0 and < sizeMs, got ${String(offsetMs)}`);
  return { kind: 'tumbling', sizeMs: options.sizeMs, offsetMs, time: time(options.time) };
}

/**
 * Windows of `sizeMs` starting every `slideMs`: a record belongs to `sizeMs / slideMs` of them.
 *
 * @example
 * ```ts
 * // the last 10 minutes, every minute
 * readings.keyBy((r) => r.sensor).window(slidingWindows({ sizeMs: 600_000, slideMs: 60_000 })).reduce(maxReading);
 * ```
 */
export function slidingWindows(options: { readonly sizeMs: number; readonly slideMs: number; readonly offsetMs?: number; readonly time?: WindowTime }): WindowAssigner {
  positive('sizeMs', options.sizeMs);
  positive('slideMs', options.slideMs);
  if (options.slideMs > options.sizeMs) invalid(`slideMs (${options.slideMs}) must not exceed sizeMs (${options.sizeMs}): records between windows would belong to none`);
  const offsetMs = options.offsetMs ?? 0;
  if (!Number.isFinite(offsetMs) || offsetMs < 0 || offsetMs >= options.slideMs) invalid(`offsetMs must be ≥ 0 and < slideMs, got ${String(offsetMs)}`);
  return { kind: 'sliding', sizeMs: options.sizeMs, slideMs: options.slideMs, offsetMs, time: time(options.time) };
}

/**
 * Per key, records closer than `gapMs` to each other form one session; a session ends `gapMs` after its last
 * record. Sessions merge when a record bridges two of them, so their functions must be able to merge: reduce and
 * process always can, aggregate needs `merge`.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.user).window(sessionWindows({ gapMs: 30 * 60_000 })).process(summarizeVisit);
 * ```
 */
export function sessionWindows(options: { readonly gapMs: number; readonly time?: WindowTime }): WindowAssigner {
  positive('gapMs', options.gapMs);
  return { kind: 'session', gapMs: options.gapMs, time: time(options.time) };
}

/** What a window does besides firing at its end; `T` is the type of the windowed records. */
export interface WindowOptions<T = unknown> {
  /**
   * Event-time windows: how long after the watermark passed a window's end its records are still accepted. Each
   * late record inside the lateness updates the window and fires it again; later ones are dropped and counted.
   * Default 0.
   */
  readonly allowedLatenessMs?: number;
  /** Fire the window's contents so far every this many milliseconds of processing time too (early results). */
  readonly earlyFiringsEveryMs?: number;
  /**
   * Where records later than the allowed lateness go, instead of being dropped: a sink written exactly once with the
   * job's checkpoints, like any sink (a Kafka sink here uses the transactional id prefix `sluice-<job>-late-records`
   * unless it sets its own).
   */
  readonly lateRecords?: Sink<T>;
}

/** Flink's AggregateFunction: an accumulator per window, created, added to, merged (sessions) and read out. */
export interface WindowAggregate<T, A, R> {
  /** A new, empty accumulator for a window. */
  createAccumulator(): A;
  /** Adds `value` to the accumulator and returns it (a new one, or the same one changed). */
  add(accumulator: A, value: T): A;
  /** The window's result; `window` and `key` say which window fired. */
  result(accumulator: A, window: TimeWindow, key: string | number): R;
  /** Merges two accumulators when session windows merge; required for {@link sessionWindows}. */
  merge?(a: A, b: A): A;
}

/** What a process window function's `process` gets besides the records. */
export interface WindowContext<K, R> {
  /** The key of the window. */
  readonly key: K;
  /** The window that fired. */
  readonly window: TimeWindow;
  /** The watermark when it fired (−∞ in processing-time windows). */
  readonly watermark: number;
  /** `early` (an early firing), `on-time` (the watermark or clock reached the end) or `late` (a late record updated it). */
  readonly firing: 'early' | 'on-time' | 'late';
  /** Emits `value` (any number of times; or return one value instead). */
  emit(value: R): void;
}

/** A function over all records of a fired window, in arrival order (they are kept in state until the window is purged). */
export interface ProcessWindowFunction<T, K, R> {
  /** All records of the fired window, in arrival order; return the one output or call `ctx.emit`. */
  process(records: readonly T[], ctx: WindowContext<K, R>): R | void;
}

/** The window node's spec in the logical graph: assigner, options and the window function. */
export interface WindowSpec {
  /** How records are assigned to windows. */
  readonly assigner: WindowAssigner;
  /** How long after a window's end late records still update it. */
  readonly allowedLatenessMs: number;
  /** Interval of early firings before the window ends, if any. */
  readonly earlyFiringsEveryMs: number | undefined;
  /** Where records too late for their window go, if anywhere. */
  readonly lateRecords: Sink<unknown> | undefined;
  /** The window function. */
  readonly fn:
    | { readonly type: 'reduce'; readonly reduce: (a: unknown, b: unknown) => unknown }
    | { readonly type: 'aggregate'; readonly aggregate: WindowAggregate<unknown, unknown, unknown> }
    | { readonly type: 'process'; readonly process: ProcessWindowFunction<unknown, unknown, unknown> };
}

/**
 * The windows `timestamp` belongs to (tumbling and sliding; a session's first window for sessions): what a window
 * operator does with each record, for tests and tools that want to know where a record lands.
 *
 * @example
 * ```ts
 * assignWindows(slidingWindows({ sizeMs: 60_000, slideMs: 30_000 }), 90_500);
 * // [{ start: 90_000, end: 150_000 }, { start: 60_000, end: 120_000 }]
 * ```
 */
export function assignWindows(assigner: WindowAssigner, timestamp: number): TimeWindow[] {
  switch (assigner.kind) {
    case 'tumbling': {
      const start = windowStart(timestamp, assigner.offsetMs, assigner.sizeMs);
      return [{ start, end: start + assigner.sizeMs }];
    }
    case 'sliding': {
      const windows: TimeWindow[] = [];
      const last = windowStart(timestamp, assigner.offsetMs, assigner.slideMs);
      for (let start = last; start > timestamp - assigner.sizeMs; start -= assigner.slideMs) windows.push({ start, end: start + assigner.sizeMs });
      return windows;
    }
    case 'session':
      return [{ start: timestamp, end: timestamp + assigner.gapMs }];
  }
}

/** Flink's TimeWindow.getWindowStartWithOffset, for negative timestamps too. */
function windowStart(timestamp: number, offset: number, size: number): number {
  const remainder = (timestamp - offset) % size;
  return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) invalid(`${name} must be a positive number of milliseconds, got ${String(value)}`);
}

function time(value: WindowTime | undefined): WindowTime {
  if (value === undefined) return 'event';
  if (value !== 'event' && value !== 'processing') invalid(`time must be 'event' or 'processing', got ${String(value)}`);
  return value;
}

function invalid(message: string): never {
  throw new SluiceError('SLUICE_INVALID_JOB', `window: ${message}`, { retriable: false });
}
