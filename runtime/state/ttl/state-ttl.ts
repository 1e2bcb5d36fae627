/**
 * Time-to-live of keyed state: a key's state of a declared state is gone once `afterMs` of processing time passed
 * since it was last written (or read, with `refreshOnRead`) — Flink's `StateTtlConfig` with `OnCreateAndWrite` (or
 * `OnReadAndWrite`) and `NeverReturnExpired`.
 *
 * How it is kept: each TTL'd state has a companion value state of last-use times, named {@link ttlStampsName}, that
 * the handles (ttl-handles.ts) keep next to the state itself. Being plain keyed state, the times are checkpointed,
 * restored, rescaled and read by `sluice state` with everything else, by either backend, in the same format; a
 * restored key expires when it would have without the restart (processing time is the wall clock).
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

/** The name of the companion state that holds, per key, when state `name` was last used (ms). @internal */
export function ttlStampsName(name: string): string {
  return `${RESERVED_STATE_PREFIX}ttl:${name}`;
}

/** What is wrong with `ttl` as a declaration's time-to-live, or `undefined` when it is fine. @internal */
export function ttlProblem(ttl: unknown): string | undefined {
  if (typeof ttl !== 'object' || ttl === null) return 'ttl must be an object: { afterMs, refreshOnRead? }';
  const { afterMs, refreshOnRead } = ttl as Record<string, unknown>;
  if (typeof afterMs !== 'number' || !Number.isInteger(afterMs) || afterMs < 1) return `ttl.afterMs must be a positive whole number of ms, got ${String(afterMs)}`;
  if (refreshOnRead !== undefined && typeof refreshOnRead !== 'boolean') return `ttl.refreshOnRead must be true or false, got ${String(refreshOnRead)}`;
  return undefined;
}
