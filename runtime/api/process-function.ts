import type { ListState, MapState, ValueState } from '../state/index.ts';
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

/** Processing-time timers of the current key. A timer fires `onTimer` once, with the key it was registered for. */
export interface TimerService {
  currentProcessingTime(): number;
  registerProcessingTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

/** What `processElement` and `onTimer` of a keyed process function see. */
export interface KeyedProcessContext<K, U, S extends StateDeclarations> {
  /** The key of the record (or of the timer) being processed. */
  readonly key: K;
  readonly state: StateHandles<S>;
  readonly timers: TimerService;
  emit(value: U): void;
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
export interface KeyedProcessFunction<T, K, U, S extends StateDeclarations = Record<never, never>> {
  readonly state?: S;
  /** Return the one output (its type is inferred), or call `ctx.emit` for zero or many. */
  processElement(value: T, ctx: KeyedProcessContext<K, U, S>): U | void;
  onTimer?(timestamp: number, ctx: KeyedProcessContext<K, U, S>): U | void;
}

/** What a non-keyed process function sees: it can only emit. */
export interface ProcessContext<U> {
  emit(value: U): void;
}

/** A stateless process function on a non-keyed stream. Declaring state here is a validation error. */
export interface ProcessFunction<T, U> {
  processElement(value: T, ctx: ProcessContext<U>): U | void;
}
