import { SluiceError } from '../errors/index.ts';
import { ALL_KEY, AllCountWindowedStream, AllWindowedStream } from './all-windows.ts';
import type { AsyncMapOptions } from './async-map.ts';
import type { Sink, Source } from './connector.ts';
import { BroadcastStream } from './connected-streams.ts';
import type { WatermarkStrategy } from './event-time.ts';
import { GraphRecorder, OperatorHandle } from './graph-recorder.ts';
import { KeyedStream } from './keyed-stream.ts';
import type { KeySelector, Partitioning } from './logical-graph.ts';
import type { ProcessFunction } from './process-function.ts';
import type { WindowAssigner, WindowOptions } from './windows.ts';
import type { LateOutputs } from './join-support.ts';
import { ERROR_OUTPUT, LATE_LEFT_OUTPUT, LATE_OUTPUT, LATE_RIGHT_OUTPUT, type FailedRecord, type OutputDeclarations, type OutputValue } from './side-outputs.ts';

export { GraphRecorder } from './graph-recorder.ts';

/**
 * A stream of records of type `T`. Every call adds an operator and returns the stream of its output, so the type of
 * each step's output is the type of the next step's input.
 *
 * @example
 * ```ts
 * env.source(lines)
 *   .flatMap((line) => line.split(' '))
 *   .filter((word) => word.length > 0)
 *   .map((word) => ({ word, count: 1 }))
 *   .keyBy((w) => w.word)
 *   .reduce((a, b) => ({ word: a.word, count: a.count + b.count }))
 *   .sink(fileSink({ directory: 'out/wordcount' }));
 * ```
 */
export class Stream<T> extends OperatorHandle {
  readonly #partitioning: Partitioning;

  constructor(recorder: GraphRecorder, nodeId: number, partitioning: Partitioning = 'forward') {
    super(recorder, nodeId);
    this.#partitioning = partitioning;
  }

  /** One output per input. */
  map<U>(fn: (value: T) => U): OperatorStream<U, T> {
    return this.#next('map', fn);
  }

  /** Keeps the records for which `fn` is true (a type guard narrows the type). */
  filter<S extends T>(fn: (value: T) => value is S): OperatorStream<S, T>;
  filter(fn: (value: T) => boolean): OperatorStream<T, T>;
  filter(fn: (value: T) => boolean): OperatorStream<T, T> {
    return this.#next('filter', fn);
  }

  /** Zero or more outputs per input. */
  flatMap<U>(fn: (value: T) => Iterable<U>): OperatorStream<U, T> {
    return this.#next('flatMap', fn);
  }

  /**
   * One output per input from an asynchronous function (a lookup over HTTP, in Elasticsearch, in a database), with
   * up to `concurrency` records in flight per subtask. A full subtask stops taking input (backpressure). Records in
   * flight at a checkpoint are part of it and are asked for again after a restore, so each input still gives its
   * output exactly once; they must be serialisable like state (msgpack). A rejection follows the operator's
   * `onError` policy; a timeout follows `onTimeout`. A watermark waits until the records before it are done.
   *
   * @example
   * ```ts
   * orders.asyncMap(async (o, signal) => {
   *   const res = await fetch(`http://profiles/${o.customerId}`, { signal });
   *   return { ...o, profile: await res.json() };
   * }, { concurrency: 100, timeoutMs: 2_000, order: 'ordered' });
   * ```
   */
  asyncMap<U>(fn: (value: T, signal: AbortSignal) => Promise<U>, options: AsyncMapOptions<T, U> = {}): OperatorStream<U, T> {
    const id = this.recorder.add({
      kind: 'asyncMap',
      name: 'asyncMap',
      fn: fn as never,
      options: options as AsyncMapOptions<never, unknown>,
      input: { node: this.nodeId, partitioning: this.#partitioning },
    });
    return new OperatorStream<U, T>(this.recorder, id);
  }

  /**
   * One stream of the records of this stream and of `others`, all of one type (Flink's `union`). Records of each
   * input keep their order; between inputs they interleave as they come. Barriers are aligned and watermarks are
   * the minimum over all of them.
   *
   * @example
   * ```ts
   * const clicks = env.source(webClicks).union(env.source(appClicks).map(toWebClick));
   * ```
   */
  union(...others: Stream<T>[]): Stream<T> {
    if (others.length === 0) throw new SluiceError('SLUICE_INVALID_JOB', 'union() needs at least one other stream to merge with');
    for (const other of others) {
      if (other.recorder !== this.recorder) throw new SluiceError('SLUICE_INVALID_JOB', 'union() merges streams of the same job: the streams come from different build functions');
    }
    const inputs = [this, ...others].map((s) => ({ node: s.nodeId, partitioning: s.#partitioning }));
    const id = this.recorder.add({ kind: 'union', name: 'union', inputs, input: inputs[0] });
    return new Stream<T>(this.recorder, id);
  }

  /**
   * Partitions by key: the next operator runs keyed, each key always on the subtask that owns its key group, with
   * state of its own.
   */
  keyBy<K extends string | number>(keySelector: (value: T) => K): KeyedStream<T, K> {
    return new KeyedStream<T, K>(this.recorder, this.nodeId, keySelector as KeySelector);
  }

  /**
   * Cuts the whole stream into windows, not per key (Flink's `windowAll`): one window operator of parallelism 1 sees
   * every record. See {@link AllWindowedStream}.
   *
   * @example
   * ```ts
   * events.windowAll(tumblingWindows({ sizeMs: 60_000 })).aggregate({ createAccumulator: () => 0, add: (n) => n + 1, result: (n, w) => ({ minute: w.start, events: n }) });
   * ```
   */
  windowAll(assigner: WindowAssigner, options: WindowOptions<T> = {}): AllWindowedStream<T> {
    return new AllWindowedStream<T>(this.keyBy((): typeof ALL_KEY => ALL_KEY).window(assigner, options));
  }

  /**
   * Cuts the whole stream into windows by count, not per key (Flink's `countWindowAll`): tumbling windows of `size`
   * records, or the last `size` records every `slide`, on one operator of parallelism 1. See {@link AllCountWindowedStream}.
   *
   * @example
   * ```ts
   * readings.countWindowAll(1_000).reduce((a, b) => (b.value > a.value ? b : a));
   * ```
   */
  countWindowAll(size: number, slide?: number): AllCountWindowedStream<T> {
    return new AllCountWindowedStream<T>(this.keyBy((): typeof ALL_KEY => ALL_KEY), size, slide);
  }

  /** Spreads records round-robin over the next operator's subtasks (after a skewed source, say). */
  rebalance(): Stream<T> {
    return new Stream<T>(this.recorder, this.nodeId, 'rebalance');
  }

  /**
   * Sends every record to every subtask of the operator it is connected to, for broadcast state: a low-volume
   * stream of rules, rates or configuration. Connect it to a keyed stream: `keyed.connect(stream.broadcast())`.
   */
  broadcast(): BroadcastStream<T> {
    return new BroadcastStream<T>(this.recorder, this.nodeId);
  }

  /**
   * A stateless function that may emit any number of records per input, or return the one output; it may emit to
   * the side outputs it declares in `outputs` (read them with `.sideOutput(name)`).
   */
  process<U, O extends OutputDeclarations = Record<never, never>>(fn: ProcessFunction<T, U, O>): ProcessedStream<U, T, O> {
    const id = this.recorder.add({ kind: 'process', name: 'process', fn: fn as never, input: { node: this.nodeId, partitioning: this.#partitioning } });
    return new ProcessedStream<U, T, O>(this.recorder, id);
  }

  /** Ends the pipeline. */
  sink(sink: Sink<T>): SinkHandle {
    const id = this.recorder.add({
      kind: 'sink',
      name: sink.name,
      sink: sink as Sink<unknown>,
      input: { node: this.nodeId, partitioning: this.#partitioning },
    });
    return new SinkHandle(this.recorder, id);
  }

  #next<U>(kind: 'map' | 'filter' | 'flatMap', fn: unknown): OperatorStream<U, T> {
    const id = this.recorder.add({
      kind,
      name: kind,
      fn: fn as never,
      input: { node: this.nodeId, partitioning: this.#partitioning },
    });
    return new OperatorStream<U, T>(this.recorder, id);
  }
}

/**
 * The output of an operator whose function may throw on a record (map, filter, flatMap, asyncMap, process, reduce):
 * a stream that also offers the operator's error output. `In` is the operator's input type.
 *
 * @example
 * ```ts
 * const parsed = env.source(lines).map((line) => JSON.parse(line) as Order); // an OperatorStream<Order, string>
 * parsed.errors().sink(fileSink({ directory: 'out/unparsable' }));
 * parsed.sink(fileSink({ directory: 'out/orders' }));
 * ```
 */
export class OperatorStream<T, In> extends Stream<T> {
  /**
   * The records this operator's function threw on, each with its error (a dead-letter stream): sets the operator's
   * `onError` policy to `'output'`. Each failed record goes to this stream instead of the main output, exactly once.
   *
   * @example
   * ```ts
   * const parsed = env.source(raw).map((line) => parseOrder(line));
   * parsed.errors().sink(kafkaSink({ topic: 'orders-dead-letter', ... }));
   * parsed.keyBy((o) => o.id).reduce(merge).sink(index);
   * ```
   */
  errors(): Stream<FailedRecord<In>> {
    const node = this.recorder.node(this.nodeId);
    if (node.onError === undefined || node.onError === 'fail') node.onError = 'output';
    const id = this.recorder.add({ kind: 'sideOutput', name: 'errors', output: ERROR_OUTPUT, input: { node: this.nodeId, partitioning: 'forward' } });
    return new Stream<FailedRecord<In>>(this.recorder, id);
  }

}

/**
 * The output of a `process` function that declares side outputs: its main stream, plus `sideOutput(name)` for each
 * declared output. Every declared output must be read, or the plan is rejected (its records would be lost).
 *
 * @example
 * ```ts
 * const checked = orders.keyBy((o) => o.customerId).process({
 *   outputs: { suspicious: sideOutput<Order>() },
 *   processElement(order, ctx): Order | void {
 *     if (order.total > 10_000) ctx.output('suspicious', order);
 *     else return order;
 *   },
 * });
 * checked.sink(ordersIndex);
 * checked.sideOutput('suspicious').sink(reviewTopic);
 * ```
 */
export class ProcessedStream<T, In, O extends OutputDeclarations> extends OperatorStream<T, In> {
  /**
   * The records the function emitted to its side output `name`, as a stream of their own.
   *
   * @example
   * ```ts
   * const joined = orders.keyBy((o) => o.customerId).connect(profiles.keyBy((p) => p.id)).process({ outputs: { unmatched: sideOutput<Order>() }, ... });
   * joined.sideOutput('unmatched').sink(review);
   * ```
   */
  sideOutput<N extends keyof O & string>(name: N): Stream<OutputValue<O[N]>> {
    const node = this.recorder.node(this.nodeId);
    const declared = 'fn' in node && typeof node.fn === 'object' && node.fn !== null ? (node.fn as { outputs?: OutputDeclarations }).outputs : undefined;
    if (declared === undefined || !Object.hasOwn(declared, name)) {
      throw new SluiceError('SLUICE_INVALID_JOB', `sideOutput(${JSON.stringify(name)}): the process function does not declare that output: add it to its outputs, e.g. outputs: { ${name}: sideOutput<T>() }`);
    }
    const id = this.recorder.add({ kind: 'sideOutput', name: `sideOutput-${name}`, output: name, input: { node: this.nodeId, partitioning: 'forward' } });
    return new Stream<OutputValue<O[N]>>(this.recorder, id);
  }
}

/**
 * The results of a window function (`R`), and the records of type `In` that came too late for their window.
 *
 * @example
 * ```ts
 * const perMinute = views
 *   .keyBy((v) => v.page)
 *   .window(tumblingWindows({ sizeMs: 60_000 }), { allowedLatenessMs: 60_000 })
 *   .aggregate(countViews);
 * perMinute.sink(elasticsearchSink({ node, index: 'views-per-minute', id: (c) => `${c.page}@${c.minute}` }));
 * perMinute.lateRecords().map(toCorrection).sink(kafkaSink({ brokers, topic: 'late-views', guarantee: 'exactly-once' }));
 * ```
 */
export class WindowResultStream<R, In> extends Stream<R> {
  /**
   * The records later than the window's allowed lateness, as a stream of their own, each with its event time: what
   * would otherwise be dropped (Flink's `sideOutputLateData`). Exactly once with the job's checkpoints, like any
   * stream. Event-time windows only; a window sends its late records here or to a `lateRecords` sink, not both.
   */
  lateRecords(): Stream<In> {
    const id = this.recorder.add({ kind: 'sideOutput', name: 'late-records', output: LATE_OUTPUT, input: { node: this.nodeId, partitioning: 'forward' } });
    return new Stream<In>(this.recorder, id);
  }
}

/**
 * The outputs of a join of two keyed streams by event time (`U`: an interval join's or a window join's), its side
 * outputs, and the records of either side that came too late to be joined.
 *
 * @example
 * ```ts
 * const shipped = orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)).between(0, 3_600_000).process({ ... });
 * shipped.sink(index);
 * shipped.lateRecords('right').sink(lateShipments);
 * ```
 */
export class JoinedStream<U, L, R, O extends OutputDeclarations> extends ProcessedStream<U, L | R, O> {
  readonly #late: LateOutputs;

  constructor(recorder: GraphRecorder, nodeId: number, late: LateOutputs) {
    super(recorder, nodeId);
    this.#late = late;
  }

  /**
   * The records of one side that came too late to be kept or joined (behind the join's watermark; for a window join,
   * every window of theirs had fired), as a stream of their own with their event times (Flink's
   * `sideOutputLeftLateData`/`sideOutputRightLateData`). Unread, they are dropped.
   *
   * @example
   * ```ts
   * joined.lateRecords('left').map((order) => ({ ...order, unmatched: true })).sink(review);
   * ```
   */
  lateRecords(side: 'left'): Stream<L>;
  lateRecords(side: 'right'): Stream<R>;
  lateRecords(side: 'left' | 'right'): Stream<L> | Stream<R> {
    if (side !== 'left' && side !== 'right') throw new SluiceError('SLUICE_INVALID_JOB', `lateRecords(${JSON.stringify(side)}): say which side, 'left' or 'right'`);
    this.#late[side] = true;
    const id = this.recorder.add({ kind: 'sideOutput', name: `late-${side}-records`, output: side === 'left' ? LATE_LEFT_OUTPUT : LATE_RIGHT_OUTPUT, input: { node: this.nodeId, partitioning: 'forward' } });
    return new Stream<L | R>(this.recorder, id) as Stream<L> & Stream<R>;
  }
}

/**
 * The end of a pipeline; carries uid/name/parallelism settings for the sink.
 *
 * @example
 * ```ts
 * totals.sink(elasticsearchSink({ node, index: 'totals', id: (t) => t.user })).uid('totals-index').parallelism(2);
 * ```
 */
export class SinkHandle extends OperatorHandle {}

/** How a source's records get event time; see {@link StreamEnvironment.source}. */
export interface SourceOptions<T> {
  /** Timestamps and watermarks; without it the stream has processing time only. */
  readonly watermarks?: WatermarkStrategy<T>;
}

/**
 * The entry point a job's build function receives: every pipeline starts with {@link StreamEnvironment.source}.
 *
 * @example
 * ```ts
 * export default defineJob({ name: 'echo' }, (env) => {
 *   env.source(datagen({ count: 10, record: (i) => ({ i }) })).sink(consoleSink());
 * });
 * ```
 */
export class StreamEnvironment {
  readonly #recorder: GraphRecorder;

  constructor(recorder: GraphRecorder) {
    this.#recorder = recorder;
  }

  /**
   * Starts a pipeline from a source. A job may have several pipelines; each must end in a sink. With `watermarks`,
   * the stream has event time: every record carries the timestamp the strategy gives it, and watermarks (one
   * generator per split, their minimum per subtask) flow with the records (docs/event-time.md).
   *
   * @example
   * ```ts
   * env.source(datagen({ splits: 4, count: 1_000_000, record: (i) => ({ id: i }) })).sink(consoleSink());
   * env.source(clicks, { watermarks: boundedOutOfOrderness({ maxOutOfOrdernessMs: 5_000, timestamp: (c) => c.ts }) });
   * ```
   */
  source<T>(source: Source<T>, options: SourceOptions<T> = {}): Stream<T> {
    const watermarks = options.watermarks as WatermarkStrategy<unknown> | undefined;
    const id = this.#recorder.add({ kind: 'source', name: source.name, source: source as Source<unknown>, watermarks, input: undefined });
    return new Stream<T>(this.#recorder, id);
  }
}
