/**
 * Keyed state is declared up front, by name and kind, in a `process` operator's spec. Declaring it (instead of
 * creating it on the fly) lets the plan validator reject state outside a keyed context before anything runs, and
 * gives `ctx.state` its types.
 */
export type StateKind = 'value' | 'map' | 'list';

/** A declared piece of keyed state. The type parameters only carry types to `ctx.state`. */
export interface StateDeclaration<Kind extends StateKind = StateKind, V = unknown, K = unknown> {
  /** Which kind of state: one value, a map, or a list per key. */
  readonly kind: Kind;
  /** Phantom fields for type inference; never set. */
  readonly __value?: V;
  /** Phantom field for the map's key type; never set. */
  readonly __key?: K;
}

/**
 * Declares a single value per key.
 *
 * @example
 * ```ts
 * .process({ state: { count: valueState<number>() }, processElement(v, ctx) { ctx.state.count.update(1); } })
 * ```
 */
export function valueState<V>(): StateDeclaration<'value', V> {
  return { kind: 'value' };
}

/**
 * Declares a map per key (e.g. counts per url for each user). Its keys are strings or numbers.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.user).process({
 *   state: { perUrl: mapState<string, number>() },
 *   processElement(c, ctx) {
 *     ctx.state.perUrl.put(c.url, (ctx.state.perUrl.get(c.url) ?? 0) + 1);
 *   },
 * });
 * ```
 */
export function mapState<K extends string | number, V>(): StateDeclaration<'map', V, K> {
  return { kind: 'map' };
}

/**
 * Declares a list per key.
 *
 * @example
 * ```ts
 * payments.keyBy((p) => p.account).process({
 *   state: { recent: listState<number>() },
 *   processElement(p, ctx) {
 *     ctx.state.recent.update([...ctx.state.recent.get(), p.amount].slice(-10));
 *   },
 * });
 * ```
 */
export function listState<V>(): StateDeclaration<'list', V> {
  return { kind: 'list' };
}

/**
 * The `state` of a keyed `process` spec: each name maps to {@link valueState}, {@link mapState} or {@link listState}.
 * The names are stored in checkpoints: keep them across versions of the job.
 */
export type StateDeclarations = Record<string, StateDeclaration>;
