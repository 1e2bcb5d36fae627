import { SluiceError } from '../errors/index.ts';
import type { GraphRecorder } from './graph-recorder.ts';
import type { LogicalInput } from './logical-graph.ts';
import type { KeyedProcessContext, KeyedProcessFunction } from './process-function.ts';
import { valueState } from './state-declarations.ts';
import { OperatorStream } from './stream.ts';

/**
 * Which of its key's records a count window holds: positions `start` (inclusive) to `end` (exclusive) in the order
 * the key's records arrived, counted from 0 since the job's first run (positions are checkpointed with the key).
 * The shape of a {@link TimeWindow}, so one aggregate serves time and count windows.
 */
export interface CountWindow {
  /** Position of the window's first record among its key's records (counted from 0). */
  readonly start: number;
  /** Position after the window's last record: the key's record count when the window fired. */
  readonly end: number;
}

/** Flink's AggregateFunction for count windows (a time windows' {@link WindowAggregate} fits too). */
export interface CountWindowAggregate<T, A, R> {
  /** A new, empty accumulator for a window. */
  createAccumulator(): A;
  /** Adds `value` to the accumulator and returns it (a new one, or the same one changed). */
  add(accumulator: A, value: T): A;
  /** The window's result; `window` and `key` say which window fired. */
  result(accumulator: A, window: CountWindow, key: string | number): R;
}

/** What a count window's process function gets besides the records. */
export interface CountWindowContext<K, R> {
  /** The key of the window. */
  readonly key: K;
  /** The key's records the window holds. */
  readonly window: CountWindow;
  /** Emits `value` (any number of times; or return one value instead). */
  emit(value: R): void;
}

/** A function over all records of a fired count window, oldest first. */
export interface CountWindowFunction<T, K, R> {
  /** The window's records, oldest first; return the one output or call `ctx.emit`. */
  process(records: readonly T[], ctx: CountWindowContext<K, R>): R | void;
}

/**
 * A count window operator's state for one key, in one value state: one lookup per record. Changed in place after its
 * first write, as window accumulators are (both backends keep changes to an object read from a value state).
 */
interface KeyWindows {
  /** How many records of the key arrived so far: the next record's position. */
  seen: number;
  /** Tumbling reduce and aggregate: the fold of the current window (a reduce's is `null` before its first record). */
  acc?: unknown;
  /**
   * Tumbling `process`: the current window's records. Sliding windows: the key's last `size` records as a ring, the
   * record at position p in slot p % size.
   */
  records?: unknown[];
}

type CountWindowState = { readonly windows: ReturnType<typeof valueState<KeyWindows>> };

type Fold = { readonly create: () => unknown; readonly add: (acc: unknown, value: unknown, first: boolean) => unknown; readonly result: (acc: unknown, window: CountWindow, key: string | number) => unknown };
type Ctx = KeyedProcessContext<string | number, unknown, CountWindowState>;

/**
 * A keyed stream cut into windows by record count (`keyed.countWindow(size, slide?)`): Flink's `countWindow`. Pick
 * the window function: `reduce`, `aggregate` or `process`.
 *
 * - **Tumbling** (`slide` omitted or equal to `size`): every `size` records of a key form a window; it fires with the
 *   record that completes it. A window that never fills (the input ended) never fires, as in Flink.
 * - **Sliding** (`slide` < `size`, or larger for sampling): every `slide` records of a key, the window fires with the
 *   key's last `size` records — fewer for the first firings, as Flink's count trigger with a count evictor does.
 *
 * Results carry the event time of the record that fired the window. The state is keyed (a running count per key,
 * plus the window's fold, or the records a sliding window or a process function needs), so count windows are exactly
 * once across failures and follow their keys on rescale.
 *
 * @example
 * ```ts
 * readings
 *   .keyBy((r) => r.sensor)
 *   .countWindow(100)
 *   .aggregate({
 *     createAccumulator: () => ({ sum: 0, n: 0 }),
 *     add: (a, r) => ({ sum: a.sum + r.value, n: a.n + 1 }),
 *     result: (a, window, sensor) => ({ sensor, upTo: window.end, mean: a.sum / a.n }),
 *   });
 * ```
 */
export class CountWindowedStream<T, K extends string | number> {
  readonly #recorder: GraphRecorder;
  readonly #input: LogicalInput;
  readonly #size: number;
  readonly #slide: number;

  /** @internal Built by `KeyedStream.countWindow`. */
  constructor(recorder: GraphRecorder, input: LogicalInput, size: number, slide: number | undefined) {
    checkCount('size', size);
    if (slide !== undefined) checkCount('slide', slide);
    this.#recorder = recorder;
    this.#input = input;
    this.#size = size;
    this.#slide = slide ?? size;
  }

  /** Folds each window's records with `fn`; emits the folded value when the window fires. */
  reduce(fn: (accumulator: T, value: T) => T): OperatorStream<T, T> {
    // A reduce has no empty value: a window's first record is its fold so far (`null` only stands in, never read).
    const fold: Fold = { create: () => null, add: (acc, value, first) => (first ? value : fn(acc as T, value as T)), result: (acc) => acc };
    return this.#add('reduce', fold, undefined);
  }

  /** Keeps one accumulator per window (for tumbling windows: constant state per key) and emits `result(...)`. */
  aggregate<A, R>(aggregate: CountWindowAggregate<T, A, R>): OperatorStream<R, T> {
    const fold: Fold = {
      create: () => aggregate.createAccumulator(),
      add: (acc, value) => aggregate.add(acc as A, value as T),
      result: (acc, window, key) => aggregate.result(acc as A, window, key),
    };
    return this.#add('aggregate', fold, undefined);
  }

  /** Keeps the window's records and hands them all to `fn.process` when it fires, oldest first. */
  process<R>(fn: CountWindowFunction<T, K, R>): OperatorStream<R, T> {
    return this.#add('process', undefined, fn as CountWindowFunction<unknown, string | number, unknown>);
  }

  #add<R>(type: string, fold: Fold | undefined, process: CountWindowFunction<unknown, string | number, unknown> | undefined): OperatorStream<R, T> {
    const size = this.#size;
    const slide = this.#slide;
    const tumbling = slide === size;
    const copyFirst = !tumbling && type === 'reduce';
    const fire = (window: CountWindow, ctx: Ctx, records: unknown[]): unknown => {
      if (fold === undefined) return (process as CountWindowFunction<unknown, string | number, unknown>).process(records, { key: ctx.key, window, emit: (value) => ctx.emit(value) });
      // A reduce starts from the window's first record and may change its accumulator in place: a sliding window's
      // records stay in the ring for later windows, so it starts from a copy (one per firing).
      let acc = fold.create();
      for (let i = 0; i < records.length; i++) acc = fold.add(acc, i === 0 && copyFirst ? structuredClone(records[0]) : records[i], i === 0);
      return fold.result(acc, window, ctx.key);
    };
    const fn: KeyedProcessFunction<unknown, string | number, unknown, CountWindowState> = {
      state: { windows: valueState<KeyWindows>() },
      processElement(value, ctx) {
        let state = ctx.state.windows.value();
        if (state === undefined) {
          state = fold !== undefined && tumbling ? { seen: 0, acc: fold.create() } : { seen: 0, records: [] };
          ctx.state.windows.update(state);
        }
        const position = state.seen;
        const seen = position + 1;
        if (tumbling) {
          // A tumbling fold keeps only its accumulator; a tumbling process function the window's records. The count
          // moves after the add: a record the function threw on (and `onError('skip')` dropped) takes no position.
          if (fold !== undefined) state.acc = fold.add(state.acc, value, position % size === 0);
          else (state.records as unknown[]).push(value);
          state.seen = seen;
          if (seen % size !== 0) return undefined;
          const window = { start: seen - size, end: seen };
          if (fold !== undefined) {
            const acc = state.acc;
            state.acc = fold.create();
            return fold.result(acc, window, ctx.key);
          }
          const records = state.records as unknown[];
          state.records = [];
          return fire(window, ctx, records);
        }
        const ring = state.records as unknown[];
        ring[position % size] = value;
        state.seen = seen;
        if (seen % slide !== 0) return undefined;
        const start = Math.max(0, seen - size);
        const records: unknown[] = [];
        for (let p = start; p < seen; p++) records.push(ring[p % size]);
        return fire({ start, end: seen }, ctx, records);
      },
    };
    const id = this.#recorder.add({ kind: 'process', name: `count-window-${type}`, fn: fn as never, input: this.#input });
    return new OperatorStream<R, T>(this.#recorder, id);
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new SluiceError('SLUICE_INVALID_JOB', `countWindow ${name} must be a whole number ≥ 1, got ${String(value)}: e.g. keyed.countWindow(100) (tumbling) or keyed.countWindow(100, 10) (sliding)`);
  }
}
