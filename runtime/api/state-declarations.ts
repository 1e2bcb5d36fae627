import type { StateTtl } from '../state/ttl/state-ttl.ts';

export type { StateTtl } from '../state/ttl/state-ttl.ts';

/**
 * Keyed state is declared up front, by name and kind, in a `process` operator's spec. Declaring it (instead of
 * creating it on the fly) lets the plan validator reject state outside a keyed context before anything runs, and
 * gives `ctx.state` its types.
 */
export type StateKind = 'value' | 'map' | 'list';

/** Options of a state declaration. */
export interface StateOptions {
  /**
   * A time-to-live: a key's state is gone once `afterMs` of processing time passed since it was last written (or
   * read, with `refreshOnRead`), and is never read expired. A map or a list expires as a whole. Kept across
   * checkpoints, restores and rescales (docs/jobs.md, "State that expires").
   */
  readonly ttl?: StateTtl;
}

/** A declared piece of keyed state. The type parameters only carry types to `ctx.state`. */
export interface StateDeclaration<Kind extends StateKind = StateKind, V = unknown, K = unknown> {
  /** Which kind of state: one value, a map, or a list per key. */
  readonly kind: Kind;
  /** Its time-to-live, if it expires. */
  readonly ttl?: StateTtl;
  /** Phantom fields for type inference; never set. */
  readonly __value?: V;
  /** Phantom field for the map's key type; never set. */
  readonly __key?: K;
}

/**
 * Declares a single value per key; `ttl` makes it expire.
 *
 * @example
 * ```ts
 * .process({ state: { count: valueState<number>() }, processElement(v, ctx) { ctx.state.count.update(1); } })
 * // A session that ends 30 minutes after the user's last click:
 * .process({ state: { session: valueState<Session>({ ttl: { afterMs: 30 * 60_000 } }) }, processElement(c, ctx) { … } })
 * ```
 */
export function valueState<V>(options: StateOptions = {}): StateDeclaration<'value', V> {
  return declaration<'value', V>('value', options);
}

function declaration<Kind extends StateKind, V, K = unknown>(kind: Kind, options: StateOptions): StateDeclaration<Kind, V, K> {
  return options.ttl === undefined ? { kind } : { kind, ttl: options.ttl };
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
export function mapState<K extends string | number, V>(options: StateOptions = {}): StateDeclaration<'map', V, K> {
  return declaration<'map', V, K>('map', options);
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
export function listState<V>(options: StateOptions = {}): StateDeclaration<'list', V> {
  return declaration<'list', V>('list', options);
}

/**
 * The `state` of a keyed `process` spec: each name maps to {@link valueState}, {@link mapState} or {@link listState}.
 * The names are stored in checkpoints: keep them across versions of the job.
 */
export type StateDeclarations = Record<string, StateDeclaration>;
