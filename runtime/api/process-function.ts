import type { ListState, MapState, ValueState } from '../state/index.ts';
import type { OutputDeclarations, OutputEmitter } from './side-outputs.ts';
import type { StateDeclaration, StateDeclarations } from './state-declarations.ts';

/** Typed handles for declared state, bound to the key of the record being processed. */
export type StateHandles<S extends StateDeclarations> = {
  readonly [N in keyof S]: S[N] extends StateDeclaration<'value', infer V>
    ? ValueState<V>
    : S[N] extends StateDeclaration<'map', infer V, infer K extends string | number>
      ? MapState<K, V>
      : S[N] extends StateDeclaration<'list', infer V>
        ? ListState<V>
        : never;
};

/**
 * Timers of the current key. A timer fires `onTimer` once, with the key it was registered for: a processing-time
 * timer when the wall clock reaches it, an event-time timer when the watermark does. At most one timer per key,
 * timestamp and time domain; timers are checkpointed with the keyed state and follow their key on rescale.
 */
export interface TimerService {
  /** The processing-time clock's now, in ms. */
  currentProcessingTime(): number;
  /** Fires `onTimer(timestamp)` once the processing-time clock reaches `timestamp`. */
  registerProcessingTimeTimer(timestamp: number): void;
  /** Cancels the processing-time timer of the current key at `timestamp`, if any. */
  deleteProcessingTimeTimer(timestamp: number): void;
  /** The operator's watermark: the minimum over its inputs (`NO_WATERMARK`, −∞, before any). */
  currentWatermark(): number;
  /** Fires `onTimer(timestamp)` once the watermark is ≥ `timestamp` (at once on the next watermark if it is). */
  registerEventTimeTimer(timestamp: number): void;
  /** Cancels the event-time timer of the current key at `timestamp`, if any. */
  deleteEventTimeTimer(timestamp: number): void;
}

/** What `processElement` and `onTimer` of a keyed process function see. */
export interface KeyedProcessContext<K, U, S extends StateDeclarations, O extends OutputDeclarations = Record<never, never>> {
  /** The key of the record (or of the timer) being processed. */
  readonly key: K;
  /**
   * Event time of the record being processed; in `onTimer` of an event-time timer, the timer's timestamp.
   * `undefined` when the stream has no event time (no `watermarks` at its source) and in processing-time timers.
   */
  readonly timestamp: number | undefined;
  /** In `onTimer`: which kind of timer fired; `undefined` in `processElement`. */
  readonly timeDomain: 'event-time' | 'processing-time' | undefined;
  /** The declared keyed state, bound to the current key. */
  readonly state: StateHandles<S>;
  /** Timers of the current key. */
  readonly timers: TimerService;
  /** Emits `value` to the main output (any number of times; or return one value instead). */
  emit(value: U): void;
  /** Emits `value` to the declared side output `name` (read downstream with `.sideOutput(name)`). */
  readonly output: OutputEmitter<O>;
}

/**
 * A keyed process function: Flink's KeyedProcessFunction. State is declared in `state` and reached through
 * `ctx.state`; timers through `ctx.timers`.
 *
 * @example
 * ```ts
 * stream.keyBy((c) => c.user).process({
 *   state: { count: valueState<number>() },
 *   processElement(click, ctx) {
 *     const count = (ctx.state.count.value() ?? 0) + 1;
 *     ctx.state.count.update(count);
 *     ctx.emit({ user: ctx.key, count });
 *   },
 * });
 * ```
 */
export interface KeyedProcessFunction<T, K, U, S extends StateDeclarations = Record<never, never>, O extends OutputDeclarations = Record<never, never>> {
  /** Keyed state, reached through `ctx.state` (see `valueState()`, `mapState()`, `listState()`). */
  readonly state?: S;
  /** Side outputs the function emits to with `ctx.output` (see `sideOutput()`); each must be read downstream. */
  readonly outputs?: O;
  /** Return the one output (its type is inferred), or call `ctx.emit` for zero or many. */
  processElement(value: T, ctx: KeyedProcessContext<K, U, S, O>): U | void;
  /** A timer of the current key fired (`ctx.timeDomain` says which kind); return or emit its output. */
  onTimer?(timestamp: number, ctx: KeyedProcessContext<K, U, S, O>): U | void;
}

/** What a non-keyed process function sees: it can only emit, to its main output or a side output. */
export interface ProcessContext<U, O extends OutputDeclarations = Record<never, never>> {
  /** Emits `value` to the main output (any number of times; or return one value instead). */
  emit(value: U): void;
  /** Emits `value` to the declared side output `name` (read downstream with `.sideOutput(name)`). */
  readonly output: OutputEmitter<O>;
}

/** A stateless process function on a non-keyed stream. Declaring state here is a validation error. */
export interface ProcessFunction<T, U, O extends OutputDeclarations = Record<never, never>> {
  /** Side outputs the function emits to with `ctx.output` (see `sideOutput()`); each must be read downstream. */
  readonly outputs?: O;
  /** Return the one output (its type is inferred), or call `ctx.emit` for zero or many. */
  processElement(value: T, ctx: ProcessContext<U, O>): U | void;
}
