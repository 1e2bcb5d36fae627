import type { MapState, StateKey } from '../state/index.ts';
import type { KeyedProcessContext, StateHandles } from './process-function.ts';
import type { OutputDeclarations, OutputEmitter } from './side-outputs.ts';
import type { StateDeclaration, StateDeclarations } from './state-declarations.ts';

/**
 * A function over two keyed streams with the same key (Flink's KeyedCoProcessFunction): records of either input
 * reach the function with their key set, and both see the same keyed state and timers. Joins and enrichment are
 * written with it: keep what one side brought in state until the other side asks for it.
 *
 * @example
 * ```ts
 * orders.keyBy((o) => o.customerId).connect(profiles.keyBy((p) => p.id)).process({
 *   state: { profile: valueState<Profile>() },
 *   processElement1(order, ctx) {
 *     const profile = ctx.state.profile.value();
 *     if (profile !== undefined) return { ...order, tier: profile.tier };
 *   },
 *   processElement2(profile, ctx) {
 *     ctx.state.profile.update(profile);
 *   },
 * });
 * ```
 */
export interface KeyedCoProcessFunction<T1, T2, K, U, S extends StateDeclarations = Record<never, never>, O extends OutputDeclarations = Record<never, never>> {
  /**
   * Keyed state shared by both inputs, reached through `ctx.state` (see `valueState()`, `mapState()`, `listState()`).
   */
  readonly state?: S;
  /** Side outputs the function emits to with `ctx.output` (see `sideOutput()`); each must be read downstream. */
  readonly outputs?: O;
  /** A record of the first input; return the one output or call `ctx.emit` for zero or many. */
  processElement1(value: T1, ctx: KeyedProcessContext<K, U, S, O>): U | void;
  /** A record of the second input, with the same state and timers as the first. */
  processElement2(value: T2, ctx: KeyedProcessContext<K, U, S, O>): U | void;
  /** A timer of the current key fired (`ctx.timeDomain` says which kind); return or emit its output. */
  onTimer?(timestamp: number, ctx: KeyedProcessContext<K, U, S, O>): U | void;
}

/** Broadcast state is map state: one map per declared name, the same on every subtask. */
export type BroadcastStateDeclarations = Record<string, StateDeclaration<'map', unknown, string | number>>;

/** Read-only view of a broadcast map, as the keyed side sees it. */
export interface ReadOnlyMapState<K extends StateKey, V> {
  /** The value under `k`, or `undefined`. */
  get(k: K): V | undefined;
  /** Whether the map holds `k`. */
  has(k: K): boolean;
  /** Every key and value. */
  entries(): IterableIterator<[K, V]>;
  /** Every key. */
  keys(): IterableIterator<K>;
  /** Every value. */
  values(): IterableIterator<V>;
  /** How many entries the map holds. */
  size(): number;
}

/** Writable broadcast maps, as `processBroadcastElement` sees them. */
export type BroadcastStateHandles<B extends BroadcastStateDeclarations> = {
  readonly [N in keyof B]: B[N] extends StateDeclaration<'map', infer V, infer K extends StateKey> ? MapState<K, V> : never;
};

/** Read-only broadcast maps, as `processElement` and `onTimer` see them. */
export type ReadOnlyBroadcastState<B extends BroadcastStateDeclarations> = {
  readonly [N in keyof B]: B[N] extends StateDeclaration<'map', infer V, infer K extends StateKey> ? ReadOnlyMapState<K, V> : never;
};

/** What `processElement` and `onTimer` of a keyed broadcast function see: the keyed context plus the broadcast state. */
export type KeyedBroadcastContext<K, U, S extends StateDeclarations, B extends BroadcastStateDeclarations, O extends OutputDeclarations> = KeyedProcessContext<K, U, S, O> & {
  readonly broadcast: ReadOnlyBroadcastState<B>;
};

/**
 * What `processBroadcastElement` sees: no current key (the record goes to every subtask), writable broadcast state,
 * and `applyToKeyedState` to visit the keyed state of every key this subtask holds.
 */
export interface BroadcastContext<U, B extends BroadcastStateDeclarations, O extends OutputDeclarations = Record<never, never>, K = StateKey, S extends StateDeclarations = Record<never, never>> {
  /** Event time of the broadcast record, when its stream has event time. */
  readonly timestamp: number | undefined;
  /** The broadcast state, writable: every subtask sees the same records and must change it alike. */
  readonly broadcast: BroadcastStateHandles<B>;
  /** The processing-time clock's now, in ms. */
  currentProcessingTime(): number;
  /** The operator's watermark (`NO_WATERMARK`, −∞, before any). */
  currentWatermark(): number;
  /** Emits `value` to the main output. */
  emit(value: U): void;
  /** Emits to a declared side output: `ctx.output('name', value)`. */
  readonly output: OutputEmitter<O>;
  /**
   * Calls `fn` for every key of this subtask that has state `name`, with that state bound to the key (Flink's
   * `applyToKeyedState`): a new rule can re-evaluate what each key holds, a deleted one clear it. What `fn` emits
   * carries the broadcast record's time. Each subtask visits its own keys, so together they visit all of them once.
   *
   * @example
   * ```ts
   * processBroadcastElement(rule, ctx) {
   *   ctx.broadcast.rules.put(rule.id, rule);
   *   if (rule.deleted) ctx.applyToKeyedState('matches', (key, matches) => matches.remove(rule.id));
   * }
   * ```
   */
  applyToKeyedState<N extends keyof S & string>(name: N, fn: (key: K, state: StateHandles<S>[N]) => void): void;
}

/**
 * A keyed stream connected to a broadcast stream (Flink's KeyedBroadcastProcessFunction). Every record of the
 * broadcast stream reaches every subtask, which keeps what it needs in **broadcast state** (declared maps, the same on
 * every subtask); the keyed side reads it. Broadcast state is checkpointed once (from subtask 1) and restored to
 * every subtask at any parallelism, so `processBroadcastElement` must change it the same way on every subtask:
 * depend only on the record and the broadcast state, never on the subtask or the clock.
 *
 * The order between a broadcast record and keyed records is the order they arrive in, which differs between
 * subtasks: a keyed record may see a rate before or after an update that was sent at about the same time.
 *
 * @example
 * ```ts
 * const rates = env.source(fxRates).broadcast();
 * orders.keyBy((o) => o.id).connect(rates).process({
 *   broadcastState: { rates: mapState<string, number>() },
 *   processElement(order, ctx) {
 *     const rate = ctx.broadcast.rates.get(order.currency);
 *     return { ...order, eur: rate === undefined ? undefined : order.amount * rate };
 *   },
 *   processBroadcastElement(rate, ctx) {
 *     ctx.broadcast.rates.put(rate.currency, rate.toEur);
 *   },
 * });
 * ```
 */
export interface KeyedBroadcastProcessFunction<
  T,
  BT,
  K,
  U,
  S extends StateDeclarations = Record<never, never>,
  B extends BroadcastStateDeclarations = Record<never, never>,
  O extends OutputDeclarations = Record<never, never>,
> {
  /** Keyed state, reached through `ctx.state` in `processElement` and `onTimer`. */
  readonly state?: S;
  /** The broadcast maps by name (`mapState()` declarations), reached through `ctx.broadcast`. */
  readonly broadcastState: B;
  /** Side outputs the function emits to with `ctx.output` (see `sideOutput()`); each must be read downstream. */
  readonly outputs?: O;
  /** A record of the keyed input: keyed state and timers of its key, the broadcast state read-only. */
  processElement(value: T, ctx: KeyedBroadcastContext<K, U, S, B, O>): U | void;
  /**
   * A record of the broadcast input, seen by every subtask: update the broadcast state here, alike on every subtask.
   */
  processBroadcastElement(value: BT, ctx: BroadcastContext<U, B, O, K, S>): U | void;
  /** A timer of the current key fired; the broadcast state is readable. */
  onTimer?(timestamp: number, ctx: KeyedBroadcastContext<K, U, S, B, O>): U | void;
}
