/**
 * Time-to-live of keyed state: a key's state of a declared state is gone once `afterMs` of processing time passed
 * since it was last written (or read, with `refreshOnRead`) — Flink's `StateTtlConfig` with `OnCreateAndWrite` (or
 * `OnReadAndWrite`) and `NeverReturnExpired`.
 *
 * A value expires with its key; a map's entries and a list's elements expire one by one, as in Flink (each entry or
 * element has its own last-use time).
 *
 * How it is kept: each TTL'd state has a companion value state of times per key, named {@link ttlStampsName}, and a
 * map or a list a second companion of times per entry or element, named {@link ttlEntryStampsName}, that the handles
 * (ttl-handles.ts, ttl-map-state.ts, ttl-list-state.ts) keep next to the state itself. Being plain keyed state, the
 * times are checkpointed, restored, rescaled and read by `sluice state` with everything else, by either backend, in
 * the same format; a restored key expires when it would have without the restart (processing time is the wall clock).
 */

/** A declared state's time-to-live. */
export interface StateTtl {
  /** A key's state is gone this many ms of processing time after it was last written. */
  readonly afterMs: number;
  /** Reads count as use too, and keep the state alive (Flink's `OnReadAndWrite`). Default false: only writes do. */
  readonly refreshOnRead?: boolean;
}

/** State names starting with this are Sluice's own (a TTL'd state's last-use times): a job cannot declare them. */
export const RESERVED_STATE_PREFIX = 'sluice:';

/**
 * The name of the companion value state that holds, per key, a time of state `name` (ms): for a value, when it was
 * last used; for a map or a list, a time no entry's or element's last use is older than (the oldest, or less), so
 * that the idle-key sweeps find the keys with something to expire by this one time. @internal
 */
export function ttlStampsName(name: string): string {
  return `${RESERVED_STATE_PREFIX}ttl:${name}`;
}

/**
 * The name of the companion that holds when each entry of map state `name` (a map state: user key → ms) or each
 * element of list state `name` (a list state of ms, matched to the list's elements from its end) was last used.
 * @internal
 */
export function ttlEntryStampsName(name: string): string {
  return `${RESERVED_STATE_PREFIX}ttl-entries:${name}`;
}

/** What is wrong with `ttl` as a declaration's time-to-live, or `undefined` when it is fine. @internal */
export function ttlProblem(ttl: unknown): string | undefined {
  if (typeof ttl !== 'object' || ttl === null) return 'ttl must be an object: { afterMs, refreshOnRead? }';
  const { afterMs, refreshOnRead } = ttl as Record<string, unknown>;
  if (typeof afterMs !== 'number' || !Number.isInteger(afterMs) || afterMs < 1) return `ttl.afterMs must be a positive whole number of ms, got ${String(afterMs)}`;
  if (refreshOnRead !== undefined && typeof refreshOnRead !== 'boolean') return `ttl.refreshOnRead must be true or false, got ${String(refreshOnRead)}`;
  return undefined;
}
