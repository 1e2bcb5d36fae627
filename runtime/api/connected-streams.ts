import type { BroadcastStateDeclarations, KeyedBroadcastProcessFunction, KeyedCoProcessFunction } from './co-process-function.ts';
import type { GraphRecorder } from './graph-recorder.ts';
import type { LogicalInput } from './logical-graph.ts';
import type { OutputDeclarations } from './side-outputs.ts';
import type { StateDeclarations } from './state-declarations.ts';
import { ProcessedStream } from './stream.ts';

/**
 * A stream whose every record goes to every subtask of the operator it is connected to (`stream.broadcast()`). It
 * has one use: `keyed.connect(broadcastStream).process({ broadcastState, processElement, processBroadcastElement })`.
 *
 * @example
 * ```ts
 * const rules = env.source(ruleUpdates).broadcast(); // a BroadcastStream<Rule>
 * events.keyBy((e) => e.user).connect(rules).process({ ... });
 * ```
 */
export class BroadcastStream<T> {
  /** @internal */
  readonly recorder: GraphRecorder;
  readonly #nodeId: number;
  /** Phantom field: carries the record type. */
  declare readonly __type: T;

  constructor(recorder: GraphRecorder, nodeId: number) {
    this.recorder = recorder;
    this.#nodeId = nodeId;
  }

  /** @internal */
  get logicalInput(): LogicalInput {
    return { node: this.#nodeId, partitioning: 'broadcast' };
  }
}

/**
 * Two keyed streams with the same key type, connected: pick the two-input process function that handles them.
 * `T1` and `T2` are the record types of the first (`this` of `connect`) and the second input.
 *
 * @example
 * ```ts
 * const joined = orders.keyBy((o) => o.customerId).connect(customers.keyBy((c) => c.id)); // ConnectedKeyedStreams
 * joined.process({ ... }); // see KeyedCoProcessFunction
 * ```
 */
export class ConnectedKeyedStreams<T1, T2, K> {
  readonly #recorder: GraphRecorder;
  readonly #inputs: readonly [LogicalInput, LogicalInput];

  constructor(recorder: GraphRecorder, first: LogicalInput, second: LogicalInput) {
    this.#recorder = recorder;
    this.#inputs = [first, second];
  }

  /**
   * Processes both inputs with shared keyed state and timers (Flink's KeyedCoProcessFunction): `processElement1`
   * for records of the first input, `processElement2` for the second. Keyed state, timers and side outputs work as
   * in a keyed `process`.
   *
   * @example
   * ```ts
   * orders.keyBy((o) => o.customerId).connect(profiles.keyBy((p) => p.id)).process({
   *   state: { profile: valueState<Profile>() },
   *   processElement1: (order, ctx) => ({ ...order, name: ctx.state.profile.value()?.name }),
   *   processElement2: (profile, ctx) => ctx.state.profile.update(profile),
   * });
   * ```
   */
  process<U, S extends StateDeclarations = Record<never, never>, O extends OutputDeclarations = Record<never, never>>(
    fn: KeyedCoProcessFunction<T1, T2, K, U, S, O>,
  ): ProcessedStream<U, T1 | T2, O> {
    const id = this.#recorder.add({ kind: 'coProcess', name: 'coProcess', fn: fn as never, inputs: this.#inputs, input: this.#inputs[0] });
    return new ProcessedStream<U, T1 | T2, O>(this.#recorder, id);
  }
}

/**
 * A keyed stream connected to a broadcast stream: pick the function that handles them.
 *
 * @example
 * ```ts
 * const withRates = orders.keyBy((o) => o.id).connect(env.source(rates).broadcast()); // a BroadcastConnectedStream
 * withRates.process({ broadcastState: { rates: mapState<string, number>() }, ... });
 * ```
 */
export class BroadcastConnectedStream<T, B, K> {
  readonly #recorder: GraphRecorder;
  readonly #inputs: readonly [LogicalInput, LogicalInput];

  constructor(recorder: GraphRecorder, keyed: LogicalInput, broadcast: LogicalInput) {
    this.#recorder = recorder;
    this.#inputs = [keyed, broadcast];
  }

  /**
   * Processes keyed records with `processElement` (keyed state, timers, and the broadcast state read-only) and
   * broadcast records with `processBroadcastElement` (broadcast state writable), Flink's
   * KeyedBroadcastProcessFunction. See {@link KeyedBroadcastProcessFunction} for what broadcast state requires.
   *
   * @example
   * ```ts
   * orders.keyBy((o) => o.id).connect(env.source(rates).broadcast()).process({
   *   broadcastState: { rates: mapState<string, number>() },
   *   processElement: (o, ctx) => ({ ...o, eur: o.amount * (ctx.broadcast.rates.get(o.currency) ?? NaN) }),
   *   processBroadcastElement: (r, ctx) => ctx.broadcast.rates.put(r.currency, r.rate),
   * });
   * ```
   */
  process<U, S extends StateDeclarations = Record<never, never>, BS extends BroadcastStateDeclarations = Record<never, never>, O extends OutputDeclarations = Record<never, never>>(
    fn: KeyedBroadcastProcessFunction<T, B, K, U, S, BS, O>,
  ): ProcessedStream<U, T | B, O> {
    const id = this.#recorder.add({ kind: 'broadcastProcess', name: 'broadcastProcess', fn: fn as never, inputs: this.#inputs, input: this.#inputs[0] });
    return new ProcessedStream<U, T | B, O>(this.#recorder, id);
  }
}
