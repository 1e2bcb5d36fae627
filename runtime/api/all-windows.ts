import type { CountWindowAggregate, CountWindowFunction } from './count-windows.ts';
import type { KeyedStream, WindowedStream } from './keyed-stream.ts';
import type { OperatorStream, WindowResultStream } from './stream.ts';
import type { ProcessWindowFunction, WindowAggregate } from './windows.ts';

/** The one key of a non-keyed window (`windowAll`, `countWindowAll`): what `ctx.key` and an aggregate's `key` see. */
export const ALL_KEY = 'all';

/**
 * A whole stream cut into windows (`stream.windowAll(assigner)`): Flink's `windowAll`. Every record goes to one
 * window operator of parallelism 1 — a global aggregate (events per minute over all users) cannot be split — so put
 * the work that can run in parallel (parsing, filtering, a keyed pre-aggregation) before it. The window functions,
 * options and guarantees are those of keyed windows (`keyed.window`); the key they see is `'all'`.
 *
 * @example
 * ```ts
 * events
 *   .windowAll(tumblingWindows({ sizeMs: 60_000 }))
 *   .aggregate({ createAccumulator: () => 0, add: (n) => n + 1, result: (n, window) => ({ minute: window.start, events: n }) });
 * ```
 */
export class AllWindowedStream<T> {
  readonly #windowed: WindowedStream<T, typeof ALL_KEY>;

  /** @internal Built by `Stream.windowAll`. */
  constructor(windowed: WindowedStream<T, typeof ALL_KEY>) {
    this.#windowed = windowed;
  }

  /** Folds each window's records with `fn`; emits the folded value when the window fires. */
  reduce(fn: (accumulator: T, value: T) => T): WindowResultStream<T, T> {
    return this.#windowed.reduce(fn).parallelism(1);
  }

  /** Keeps one accumulator per window and emits `result(...)`. */
  aggregate<A, R>(aggregate: WindowAggregate<T, A, R>): WindowResultStream<R, T> {
    return this.#windowed.aggregate(aggregate).parallelism(1);
  }

  /** Keeps every record of the window and hands them all to `fn.process` when it fires. */
  process<R>(fn: ProcessWindowFunction<T, typeof ALL_KEY, R>): WindowResultStream<R, T> {
    return this.#windowed.process(fn).parallelism(1);
  }
}

/**
 * A whole stream cut into windows by count (`stream.countWindowAll(size, slide?)`): Flink's `countWindowAll`, on one
 * operator of parallelism 1, counting every record of the stream. As `keyed.countWindow` otherwise.
 *
 * @example
 * ```ts
 * readings.countWindowAll(1_000).reduce((a, b) => (b.value > a.value ? b : a)); // the largest of every 1,000
 * ```
 */
export class AllCountWindowedStream<T> {
  readonly #keyed: KeyedStream<T, typeof ALL_KEY>;
  readonly #size: number;
  readonly #slide: number | undefined;

  /** @internal Built by `Stream.countWindowAll`. */
  constructor(keyed: KeyedStream<T, typeof ALL_KEY>, size: number, slide: number | undefined) {
    this.#keyed = keyed;
    this.#size = size;
    this.#slide = slide;
    // Refuses a bad size or slide here, where the call is.
    this.#windows();
  }

  /** Folds each window's records with `fn`; emits the folded value when the window fires. */
  reduce(fn: (accumulator: T, value: T) => T): OperatorStream<T, T> {
    return this.#windows().reduce(fn).parallelism(1);
  }

  /** Keeps one accumulator per window and emits `result(...)`. */
  aggregate<A, R>(aggregate: CountWindowAggregate<T, A, R>): OperatorStream<R, T> {
    return this.#windows().aggregate(aggregate).parallelism(1);
  }

  /** Keeps the window's records and hands them all to `fn.process` when it fires, oldest first. */
  process<R>(fn: CountWindowFunction<T, typeof ALL_KEY, R>): OperatorStream<R, T> {
    return this.#windows().process(fn).parallelism(1);
  }

  #windows() {
    return this.#keyed.countWindow(this.#size, this.#slide);
  }
}
