import { SluiceError } from '../errors/index.ts';
import type { AsyncMapOptions } from './async-map.ts';
import type { Sink, Source } from './connector.ts';
import type { WatermarkStrategy } from './event-time.ts';
import type { ProcessWindowFunction, WindowAggregate, WindowAssigner, WindowOptions, WindowSpec } from './windows.ts';
import type { ErrorPolicy, KeySelector, LogicalNode, Partitioning } from './logical-graph.ts';
import type { KeyedProcessFunction, ProcessContext } from './process-function.ts';
import type { StateDeclarations } from './state-declarations.ts';

/** A logical node as the DSL describes it, before the recorder gives it an id. */
type NewNode = LogicalNode extends infer N ? (N extends LogicalNode ? Omit<N, 'id' | 'uid' | 'parallelism'> : never) : never;

/** Records the nodes the DSL calls create, in call order. One per job definition run. */
export class GraphRecorder {
  readonly nodes: LogicalNode[] = [];

  add(node: NewNode): number {
    const id = this.nodes.length;
    this.nodes.push({ ...node, id, uid: undefined, parallelism: undefined } as LogicalNode);
    return id;
  }

  node(id: number): LogicalNode {
    const node = this.nodes[id];
    if (node === undefined) throw new SluiceError('SLUICE_INTERNAL', `no logical node ${id}`);
    return node;
  }
}

/** Settings shared by every operator handle: stable uid, display name, parallelism. */
abstract class OperatorHandle {
  protected readonly recorder: GraphRecorder;
  protected readonly nodeId: number;

  constructor(recorder: GraphRecorder, nodeId: number) {
    this.recorder = recorder;
    this.nodeId = nodeId;
  }

  /**
   * Sets the operator's stable id. State in checkpoints is stored by uid, so give stateful operators an explicit uid
   * before editing the job's shape; otherwise it is derived from the operator's position (`reduce-3`).
   */
  uid(uid: string): this {
    if (uid.trim() === '') throw new SluiceError('SLUICE_INVALID_JOB', 'uid() needs a non-empty string');
    this.recorder.node(this.nodeId).uid = uid;
    return this;
  }

  /** Sets the name shown in logs, progress and status. */
  name(name: string): this {
    this.recorder.node(this.nodeId).name = name;
    return this;
  }

  /** Overrides the job's parallelism for this operator. */
  parallelism(parallelism: number): this {
    this.recorder.node(this.nodeId).parallelism = parallelism;
    return this;
  }

  /**
   * What a throw from this operator's function does (map, filter, flatMap, asyncMap, process, reduce): `'fail'` (the default)
   * fails the attempt, which restarts from the last checkpoint; `'skip'` drops the record, counts it
   * (`sluice_records_skipped_total`, `recordsSkipped` in status) and logs where it came from, so one malformed
   * record cannot put the job in a restart loop. Errors that no retry can fix (fatal SluiceErrors) fail either way.
   * Under `'skip'`, records the function emitted for the skipped record are dropped with it; keyed state it changed
   * before throwing stays changed.
   *
   * @example
   * ```ts
   * env.source(orders).map((o) => ({ ...o, total: parsePrice(o.price) })).onError('skip')
   * ```
   */
  onError(policy: ErrorPolicy): this {
    if (policy !== 'fail' && policy !== 'skip') throw new SluiceError('SLUICE_INVALID_JOB', `onError() takes 'fail' or 'skip', got ${JSON.stringify(policy)}`);
    this.recorder.node(this.nodeId).onError = policy;
    return this;
  }
}

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
  map<U>(fn: (value: T) => U): Stream<U> {
    return this.#next('map', fn);
  }

  /** Keeps the records for which `fn` is true (a type guard narrows the type). */
  filter<S extends T>(fn: (value: T) => value is S): Stream<S>;
  filter(fn: (value: T) => boolean): Stream<T>;
  filter(fn: (value: T) => boolean): Stream<T> {
    return this.#next('filter', fn);
  }

  /** Zero or more outputs per input. */
  flatMap<U>(fn: (value: T) => Iterable<U>): Stream<U> {
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
  asyncMap<U>(fn: (value: T, signal: AbortSignal) => Promise<U>, options: AsyncMapOptions<T, U> = {}): Stream<U> {
    const id = this.recorder.add({
      kind: 'asyncMap',
      name: 'asyncMap',
      fn: fn as never,
      options: options as AsyncMapOptions<never, unknown>,
      input: { node: this.nodeId, partitioning: this.#partitioning },
    });
    return new Stream<U>(this.recorder, id);
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

  /** Spreads records round-robin over the next operator's subtasks (after a skewed source, say). */
  rebalance(): Stream<T> {
    return new Stream<T>(this.recorder, this.nodeId, 'rebalance');
  }

  /** A stateless function that may emit any number of records per input, or return the one output. */
  process<U>(fn: { processElement(value: T, ctx: ProcessContext<U>): U | void }): Stream<U> {
    return this.#next('process', fn);
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

  #next<U>(kind: 'map' | 'filter' | 'flatMap' | 'process', fn: unknown): Stream<U> {
    const id = this.recorder.add({
      kind,
      name: kind,
      fn: fn as never,
      input: { node: this.nodeId, partitioning: this.#partitioning },
    });
    return new Stream<U>(this.recorder, id);
  }
}

/**
 * A stream partitioned by key. Only keyed operators follow: `reduce` and `process` (with keyed state and timers).
 */
export class KeyedStream<T, K extends string | number> {
  readonly #recorder: GraphRecorder;
  readonly #inputId: number;
  readonly #keySelector: KeySelector;

  constructor(recorder: GraphRecorder, inputId: number, keySelector: KeySelector) {
    this.#recorder = recorder;
    this.#inputId = inputId;
    this.#keySelector = keySelector;
  }

  /**
   * Folds each key's records into one value and emits the updated value for every input record.
   *
   * @example
   * ```ts
   * words.keyBy((w) => w.word).reduce((a, b) => ({ word: a.word, count: a.count + b.count }));
   * ```
   */
  reduce(fn: (accumulator: T, value: T) => T): Stream<T> {
    return this.#next('reduce', fn);
  }

  /**
   * A keyed function with declared state and processing-time timers. Return the one output (its type is inferred),
   * or call `ctx.emit` for zero or many.
   */
  process<U, S extends StateDeclarations = Record<never, never>>(
    fn: KeyedProcessFunction<T, K, U, S>,
  ): Stream<U> {
    return this.#next('process', fn);
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

  #next<U>(kind: 'reduce' | 'process', fn: unknown): Stream<U> {
    const id = this.#recorder.add({
      kind,
      name: kind,
      fn: fn as never,
      input: { node: this.#inputId, partitioning: 'hash', keySelector: this.#keySelector },
    });
    return new Stream<U>(this.#recorder, id);
  }
}

/** A keyed stream cut into windows: pick the window function. */
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
  reduce(fn: (accumulator: T, value: T) => T): Stream<T> {
    return this.#add({ type: 'reduce', reduce: fn as (a: unknown, b: unknown) => unknown });
  }

  /** Keeps one accumulator per window (constant state per window, whatever its size) and emits `result(...)`. */
  aggregate<A, R>(aggregate: WindowAggregate<T, A, R>): Stream<R> {
    return this.#add({ type: 'aggregate', aggregate: aggregate as WindowAggregate<unknown, unknown, unknown> });
  }

  /** Keeps every record of the window and hands them all to `fn.process` when it fires. */
  process<R>(fn: ProcessWindowFunction<T, K, R>): Stream<R> {
    return this.#add({ type: 'process', process: fn as ProcessWindowFunction<unknown, unknown, unknown> });
  }

  #add<R>(fn: WindowSpec['fn']): Stream<R> {
    const window: WindowSpec = {
      assigner: this.#assigner,
      allowedLatenessMs: this.#options.allowedLatenessMs ?? 0,
      earlyFiringsEveryMs: this.#options.earlyFiringsEveryMs,
      lateRecords: this.#options.lateRecords as Sink<unknown> | undefined,
      fn,
    };
    const id = this.#recorder.add({ kind: 'window', name: `window-${fn.type}`, window, input: { node: this.#inputId, partitioning: 'hash', keySelector: this.#keySelector } });
    return new Stream<R>(this.#recorder, id);
  }
}

/** The end of a pipeline; carries uid/name/parallelism settings for the sink. */
export class SinkHandle extends OperatorHandle {}

/** How a source's records get event time; see {@link StreamEnvironment.source}. */
export interface SourceOptions<T> {
  /** Timestamps and watermarks; without it the stream has processing time only. */
  readonly watermarks?: WatermarkStrategy<T>;
}

/** The entry point a job's build function receives. */
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
