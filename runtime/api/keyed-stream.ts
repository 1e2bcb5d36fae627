import { SluiceError } from '../errors/index.ts';
import type { Sink } from './connector.ts';
import { CountWindowedStream } from './count-windows.ts';
import { BroadcastConnectedStream, BroadcastStream, ConnectedKeyedStreams } from './connected-streams.ts';
import type { GraphRecorder } from './graph-recorder.ts';
import { IntervalJoinBuilder } from './interval-join.ts';
import { WindowJoin } from './window-join.ts';
import type { KeySelector, LogicalInput } from './logical-graph.ts';
import type { KeyedProcessFunction } from './process-function.ts';
import type { OutputDeclarations } from './side-outputs.ts';
import type { StateDeclarations } from './state-declarations.ts';
import { OperatorStream, ProcessedStream, WindowResultStream } from './stream.ts';
import type { ProcessWindowFunction, WindowAggregate, WindowAssigner, WindowOptions, WindowSpec } from './windows.ts';

/**
 * A stream partitioned by key (`stream.keyBy(selector)`): records with equal keys go to the same subtask, in order.
 * Keyed operators follow: `reduce`, `process` (with keyed state and timers), `window`, `connect`, `intervalJoin` and
 * `windowJoin`.
 *
 * @example
 * ```ts
 * const perUser = clicks.keyBy((c) => c.user); // a KeyedStream<Click, string>
 * perUser.reduce((a, b) => ({ ...b, clicks: a.clicks + b.clicks })).sink(index);
 * ```
 */
export class KeyedStream<T, K extends string | number> {
  readonly #recorder: GraphRecorder;
  readonly #inputId: number;
  readonly #keySelector: KeySelector;
  /** Phantom field: makes the key type part of the stream's type, so streams keyed differently cannot be connected. */
  declare readonly __key: (key: K) => K;

  constructor(recorder: GraphRecorder, inputId: number, keySelector: KeySelector) {
    this.#recorder = recorder;
    this.#inputId = inputId;
    this.#keySelector = keySelector;
  }

  /** @internal The logical input a keyed operator on this stream reads. */
  get logicalInput(): LogicalInput {
    return { node: this.#inputId, partitioning: 'hash', keySelector: this.#keySelector };
  }

  /** @internal */
  get recorder(): GraphRecorder {
    return this.#recorder;
  }

  /**
   * Connects this stream to another keyed by the same key type (a two-input operator, for joins and enrichment):
   * records of both with equal keys meet in the same subtask, with shared keyed state and timers. Barriers are
   * aligned across both inputs; the operator's watermark is the minimum of the two.
   *
   * Or connects it to a broadcast stream (`stream.broadcast()`): every subtask gets every broadcast record and keeps
   * what it needs in broadcast state.
   *
   * @example
   * ```ts
   * orders.keyBy((o) => o.customerId).connect(profiles.keyBy((p) => p.customerId)).process({ ... });
   * orders.keyBy((o) => o.id).connect(rates.broadcast()).process({ broadcastState: { ... }, ... });
   * ```
   */
  connect<T2>(other: KeyedStream<T2, K>): ConnectedKeyedStreams<T, T2, K>;
  connect<B>(other: BroadcastStream<B>): BroadcastConnectedStream<T, B, K>;
  connect<T2>(other: KeyedStream<T2, K> | BroadcastStream<T2>): ConnectedKeyedStreams<T, T2, K> | BroadcastConnectedStream<T, T2, K> {
    if (other.recorder !== this.#recorder) throw new SluiceError('SLUICE_INVALID_JOB', 'connect() joins streams of the same job: the streams come from different build functions');
    return other instanceof BroadcastStream
      ? new BroadcastConnectedStream<T, T2, K>(this.#recorder, this.logicalInput, other.logicalInput)
      : new ConnectedKeyedStreams<T, T2, K>(this.#recorder, this.logicalInput, other.logicalInput);
  }

  /**
   * Joins this stream (the left side) with another keyed by the same key type (the right side) by event time:
   * each pair of records with equal keys whose times are close enough, as {@link IntervalJoinBuilder.between} says
   * (Flink's interval join). Both streams need event time.
   *
   * @example
   * ```ts
   * orders
   *   .keyBy((o) => o.id)
   *   .intervalJoin(shipments.keyBy((s) => s.orderId))
   *   .between(0, 3_600_000) // shipped within an hour of the order
   *   .process({ processElement: (order, shipment) => ({ ...order, carrier: shipment.carrier }) });
   * ```
   */
  intervalJoin<R>(other: KeyedStream<R, K>): IntervalJoinBuilder<T, R, K> {
    if (other.recorder !== this.#recorder) throw new SluiceError('SLUICE_INVALID_JOB', 'intervalJoin() joins streams of the same job: the streams come from different build functions');
    return new IntervalJoinBuilder<T, R, K>(this.#recorder, this.logicalInput, other.logicalInput);
  }

  /**
   * Joins this stream (the left side) with another keyed by the same key type (the right side) per event-time window:
   * records with equal keys in the same tumbling or sliding window meet when the window ends, as pairs
   * ({@link WindowJoin.process}) or as the window's two lists ({@link WindowJoin.coGroup}) — Flink's window join and
   * coGroup. Both streams need event time.
   *
   * @example
   * ```ts
   * clicks
   *   .keyBy((c) => c.ad)
   *   .windowJoin(impressions.keyBy((i) => i.ad), tumblingWindows({ sizeMs: 60_000 }))
   *   .process({ processElement: (click, impression) => ({ click: click.id, impression: impression.id }) });
   * ```
   */
  windowJoin<R>(other: KeyedStream<R, K>, assigner: WindowAssigner): WindowJoin<T, R, K> {
    if (other.recorder !== this.#recorder) throw new SluiceError('SLUICE_INVALID_JOB', 'windowJoin() joins streams of the same job: the streams come from different build functions');
    return new WindowJoin<T, R, K>(this.#recorder, this.logicalInput, other.logicalInput, assigner);
  }

  /**
   * Folds each key's records into one value and emits the updated value for every input record.
   *
   * @example
   * ```ts
   * words.keyBy((w) => w.word).reduce((a, b) => ({ word: a.word, count: a.count + b.count }));
   * ```
   */
  reduce(fn: (accumulator: T, value: T) => T): OperatorStream<T, T> {
    const id = this.#recorder.add({ kind: 'reduce', name: 'reduce', fn: fn as never, input: this.logicalInput });
    return new OperatorStream<T, T>(this.#recorder, id);
  }

  /**
   * A keyed function with declared state and processing-time timers. Return the one output (its type is inferred),
   * or call `ctx.emit` for zero or many.
   */
  process<U, S extends StateDeclarations = Record<never, never>, O extends OutputDeclarations = Record<never, never>>(
    fn: KeyedProcessFunction<T, K, U, S, O>,
  ): ProcessedStream<U, T, O> {
    const id = this.#recorder.add({ kind: 'process', name: 'process', fn: fn as never, input: this.logicalInput });
    return new ProcessedStream<U, T, O>(this.#recorder, id);
  }

  /**
   * Groups each key's records into windows (tumbling, sliding, session; by event time or processing time) and
   * applies a window function when a window fires: at its end by default, plus early firings and late updates as
   * `options` say. Window contents and timers live in keyed state: exactly once across failures and rescales.
   *
   * @example
   * ```ts
   * views
   *   .keyBy((v) => v.page)
   *   .window(tumblingWindows({ sizeMs: 60_000 }), { allowedLatenessMs: 10_000 })
   *   .aggregate({
   *     createAccumulator: () => 0,
   *     add: (n) => n + 1,
   *     result: (n, window, page) => ({ page, minute: window.start, views: n }),
   *   });
   * ```
   */
  window(assigner: WindowAssigner, options: WindowOptions<T> = {}): WindowedStream<T, K> {
    return new WindowedStream<T, K>(this.#recorder, this.#inputId, this.#keySelector, assigner, options);
  }

  /**
   * Groups each key's records into windows by count (Flink's `countWindow`): tumbling windows of `size` records, or
   * with `slide`, the key's last `size` records every `slide` records. See {@link CountWindowedStream}.
   *
   * @example
   * ```ts
   * trades.keyBy((t) => t.symbol).countWindow(50, 10).aggregate({
   *   createAccumulator: () => 0,
   *   add: (sum, t) => sum + t.price,
   *   result: (sum, window, symbol) => ({ symbol, movingAverage: sum / (window.end - window.start) }),
   * });
   * ```
   */
  countWindow(size: number, slide?: number): CountWindowedStream<T, K> {
    return new CountWindowedStream<T, K>(this.#recorder, this.logicalInput, size, slide);
  }

}

/**
 * A keyed stream cut into windows (`keyed.window(assigner)`): pick the window function — `reduce`, `aggregate` or
 * `process`. See docs/event-time.md.
 *
 * @example
 * ```ts
 * views
 *   .keyBy((v) => v.page)
 *   .window(tumblingWindows({ sizeMs: 60_000 }))
 *   .reduce((a, b) => ({ page: a.page, views: a.views + b.views }));
 * ```
 */
export class WindowedStream<T, K extends string | number> {
  readonly #recorder: GraphRecorder;
  readonly #inputId: number;
  readonly #keySelector: KeySelector;
  readonly #assigner: WindowAssigner;
  readonly #options: WindowOptions<T>;

  constructor(recorder: GraphRecorder, inputId: number, keySelector: KeySelector, assigner: WindowAssigner, options: WindowOptions<T>) {
    this.#recorder = recorder;
    this.#inputId = inputId;
    this.#keySelector = keySelector;
    this.#assigner = assigner;
    this.#options = options;
  }

  /** Folds each window's records with `fn`; emits the folded value when the window fires. */
  reduce(fn: (accumulator: T, value: T) => T): WindowResultStream<T, T> {
    return this.#add({ type: 'reduce', reduce: fn as (a: unknown, b: unknown) => unknown });
  }

  /** Keeps one accumulator per window (constant state per window, whatever its size) and emits `result(...)`. */
  aggregate<A, R>(aggregate: WindowAggregate<T, A, R>): WindowResultStream<R, T> {
    return this.#add({ type: 'aggregate', aggregate: aggregate as WindowAggregate<unknown, unknown, unknown> });
  }

  /** Keeps every record of the window and hands them all to `fn.process` when it fires. */
  process<R>(fn: ProcessWindowFunction<T, K, R>): WindowResultStream<R, T> {
    return this.#add({ type: 'process', process: fn as ProcessWindowFunction<unknown, unknown, unknown> });
  }

  #add<R>(fn: WindowSpec['fn']): WindowResultStream<R, T> {
    const window: WindowSpec = {
      assigner: this.#assigner,
      allowedLatenessMs: this.#options.allowedLatenessMs ?? 0,
      earlyFiringsEveryMs: this.#options.earlyFiringsEveryMs,
      lateRecords: this.#options.lateRecords as Sink<unknown> | undefined,
      fn,
    };
    const id = this.#recorder.add({ kind: 'window', name: `window-${fn.type}`, window, input: { node: this.#inputId, partitioning: 'hash', keySelector: this.#keySelector } });
    return new WindowResultStream<R, T>(this.#recorder, id);
  }
}
