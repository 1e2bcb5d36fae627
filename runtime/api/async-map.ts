/**
 * Options of `Stream.asyncMap`: how many requests a subtask keeps in flight, how long one may take and what then
 * happens, and whether results keep the input's order.
 *
 * @example
 * ```ts
 * orders.asyncMap(async (o, signal) => ({ ...o, customer: await lookUp(o.customerId, signal) }), {
 *   concurrency: 100,
 *   timeoutMs: 2_000,
 *   onTimeout: (o) => ({ ...o, customer: undefined }),
 * });
 * ```
 */
export interface AsyncMapOptions<T, U> {
  /** Records in flight per subtask, at most (requests running, and results waiting for their turn): default 100. */
  readonly concurrency?: number;
  /** How long one record's function may run; its `signal` aborts then. Default 30 s. */
  readonly timeoutMs?: number;
  /**
   * What a record that timed out does: `'fail'` (default) fails the attempt, which restarts from the last checkpoint
   * and asks again; `'skip'` drops the record (counted with the operator's skipped records); a function gives the
   * output to use instead.
   */
  readonly onTimeout?: 'fail' | 'skip' | ((value: T) => U);
  /** `'ordered'` (default): outputs in the order of their inputs; `'unordered'`: each as soon as it is ready. */
  readonly order?: 'ordered' | 'unordered';
}

export const ASYNC_MAP_DEFAULTS = { concurrency: 100, timeoutMs: 30_000, onTimeout: 'fail', order: 'ordered' } as const;

/** Problems with asyncMap options, for the plan builder (empty when they are fine). */
export function asyncMapProblems(uid: string, options: AsyncMapOptions<never, unknown>): string[] {
  const problems: string[] = [];
  const { concurrency, timeoutMs, onTimeout, order } = options;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100_000)) {
    problems.push(`asyncMap "${uid}": concurrency must be an integer from 1 to 100000, got ${String(concurrency)}`);
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))) {
    problems.push(`asyncMap "${uid}": timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
  }
  if (onTimeout !== undefined && onTimeout !== 'fail' && onTimeout !== 'skip' && typeof onTimeout !== 'function') {
    problems.push(`asyncMap "${uid}": onTimeout must be 'fail', 'skip' or a function giving the output to use, got ${JSON.stringify(onTimeout)}`);
  }
  if (order !== undefined && order !== 'ordered' && order !== 'unordered') {
    problems.push(`asyncMap "${uid}": order must be 'ordered' or 'unordered', got ${JSON.stringify(order)}`);
  }
  return problems;
}
